/**
 * The sign-in core: the rules of signing a citizen in at an RP, with no HTTP in sight. The
 * interaction routes (src/interactions) parse a form, call one step here and turn its outcome
 * into a response; the portal and the phone app's API will call the same steps.
 *
 * Each step starts from one read of the sign-in (the RP's interaction, kapu's flow, the
 * account), counts a guess before checking it (throttle), and makes its writes in one unit of
 * work with the flow row locked — or as one conditional update — so two requests of the same
 * sign-in can never both move it on. A finished sign-in stores the interaction's result for
 * oidc-provider in that same unit of work: accountId, acr (the level reached) and amr.
 */
import type { Clock, Random } from '../clock.ts';
import type { AuditEvent } from '../db/repositories/audit.ts';
import type { Repos, TxRepos } from '../db/repositories/index.ts';
import type { Candidate, SignInRow } from '../db/repositories/sign-ins.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import { type ChallengeStatus, type Factor, type FactorAccount, type FactorContext, type FactorRegistry, type FlowContext, type FormFields, type GuardedContext, type GuardedProof, type Notice, type PasswordlessFactor, isPasswordless } from '../factors/factor.ts';
import type { Mailer } from '../mail/mailer.ts';
import { finishWithError, finishWithLogin, requestOf } from '../oidc/interaction-store.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.ts';
import { type Attempt, type Throttle, standInKey } from '../security/throttle.ts';
import { DEFAULT_LANG, type Lang, isLang, pickLang } from '../views.ts';
import { type FlowState, LEGACY_METHOD, isFlowState } from './flow.ts';
import { type AcrPolicy, type Level, amrFor } from './levels.ts';
import type { EnrollmentService } from './enrollment.ts';
import { isNewBrowser, queueNewBrowserMail } from './new-browser.ts';
import type { Outcome, Refusal, Shown, ShownClient } from './outcomes.ts';
import type { MethodOption, Option, SignInPage } from './pages.ts';
import type { PortalSessions } from './portal-sessions.ts';
import { tellFailures } from './lock-notice.ts';

const USERNAME_MAX_LENGTH = 200;
const CHOICE_MAX_LENGTH = 32;

/** Who is asking: the client address (throttling, audit), their browser, a language chosen. */
export interface Requester {
  ip: string;
  /** A choice made in this sign-in (the language link); it outranks the RP's ui_locales. */
  lang: Lang | null;
  /** Otherwise, after the RP's ui_locales: a remembered choice, or the browser's Accept-Language. */
  preferred?: Lang | null;
  /** The browser, in a few words (for the citizen's list of sign-ins); never a full header. */
  browser: string | null;
  /** This browser's signed device cookie: it signed in to this account before. */
  device?: { accountId: string; id: string } | null;
}

/** The RPs, as the core needs them. */
export interface ClientLookup {
  find(clientId: string): Promise<{ clientId: string; name: string | null; logoSha256: string | null; homepage: string | null; minAcr: string | undefined } | undefined>;
}

export interface SignInDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  passwords: PasswordHasher;
  throttle: Throttle;
  acr: AcrPolicy;
  clients: ClientLookup;
  enrollments: EnrollmentService;
  portalSessions: PortalSessions;
  clock: Clock;
  random: Random;
  /** Tells the citizen when failures pile up on the account (optional for core-only tests). */
  mailer?: Mailer;
  /** Mail the citizen when the account signs in from a browser new to it (NEW_BROWSER_MAIL). */
  newBrowserMail?: boolean;
}

/** How long a portal sign-in may take (an RP's lasts as long as its interaction). */
const PORTAL_SIGN_IN_SECONDS = 60 * 60;
/** Where a finished (or cancelled) portal sign-in lands. */
export const PORTAL_HOME = '/account';

/** `lang`: the citizen's own language (their last finished sign-in's), which their mails use. */
type Account = FactorAccount & { factors: Factor[]; lang?: Lang | null };

/** A sign-in as a step sees it. */
interface SignIn {
  uid: string;
  /** At an RP, or at kapu's own account portal. */
  kind: 'rp' | 'portal';
  state: FlowState;
  method: string | null;
  factor: Factor | undefined;
  /** The factor being set up inline (state `enroll`). */
  enrollmentId: string | null;
  account: Account | null;
  /** The RP; null for the portal. */
  client: ShownClient | null;
  /** The lowest level this sign-in may end with (the RP's acr_values and minimum). */
  need: Level;
  lang: Lang;
  /** The browser, in a few words (for mails: "asked from Chrome 131, Linux"). */
  browser: string | null;
  /** The language of mails sent in this sign-in: the one the citizen is reading (the pages'). */
  mailLang: Lang;
  redirectUri: string | undefined;
  /** The provider's prompt: 'login', or 'consent' for a signed-in citizen and a new RP. */
  prompt: string;
  /** Signed in by a passwordless factor alone (no password typed). */
  passwordless?: boolean;
  /** State `guarded`: the username as typed and the factor's proof state. */
  guard: Guard | null;
}

/** What a guarded sign-in keeps on its flow (JSON in `login_flow.guard`). */
interface Guard {
  username: string;
  kept: string;
}

export type StatusOutcome = { kind: 'status'; status: ChallengeStatus | 'none' } | { kind: 'expired' };

const EXPIRED: Outcome = { kind: 'expired' };

export class SignInService {
  readonly #deps: SignInDeps;

  constructor(deps: SignInDeps) {
    this.#deps = deps;
  }

  /**
   * Starts a sign-in at the account portal: its flow's uid (the browser is sent to its page).
   * `sessionToken`: the browser's portal session, if it has one; it ends when this sign-in
   * finishes, so a second sign-in in the same browser leaves no earlier session behind.
   */
  async startPortal(sessionToken?: string): Promise<string> {
    const { uow, clock, random, portalSessions } = this.#deps;
    const uid = random.uuid();
    const now = clock.now();
    await uow.repos.signIns.openPortal(uid, now, new Date(now.getTime() + PORTAL_SIGN_IN_SECONDS * 1000), portalSessions.idOf(sessionToken));
    return uid;
  }

  /** The flow's current page. */
  async show(uid: string, requester: Requester, notice: Notice | null): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    if (signIn.prompt === 'consent') return { kind: 'consent', uid };
    return { kind: 'show', shown: await this.#shown(signIn, this.#deps.uow.repos), notice };
  }

  /** The citizen picked a sign-in method on the chooser; next: the password. */
  async chooseMethod(uid: string, requester: Requester, method: unknown): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    const off = this.#offState(signIn, ['choose_method']);
    if (off) return off;
    const known = typeof method === 'string' && method.length <= CHOICE_MAX_LENGTH && (method === LEGACY_METHOD || this.#deps.factors.get(method) !== undefined);
    if (!known) return { kind: 'bad_request', code: 'unknown_method' };
    const alone = this.#deps.factors.get(method);
    if (isPasswordless(alone)) return this.#beginAlone(signIn, requester, alone);
    return this.#advance(signIn, ['choose_method'], { state: 'password', method });
  }

  /** Back from the password step to the method chooser. */
  async restart(uid: string, requester: Requester): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    // From a passwordless factor's page too (no account yet): back to the chooser.
    const from: FlowState[] = signIn.account === null && isPasswordless(signIn.factor) ? ['password', 'factor'] : ['password'];
    return this.#offState(signIn, from) ?? this.#advance(signIn, from, { state: 'choose_method', method: null, factor: null });
  }

  /**
   * Username + password. One answer for an unknown user, a wrong password and a locked
   * username (same page, same status, same time: argon2 runs either way). Nothing before a
   * right password reveals whether the account exists or what it has.
   */
  async password(uid: string, requester: Requester, form: FormFields): Promise<Outcome> {
    const username = boundedString(form['username'], USERNAME_MAX_LENGTH)?.trim() ?? '';
    const password = boundedString(form['password'], PASSWORD_MAX_LENGTH) ?? '';
    const loaded = await this.#load(uid, requester, username || undefined);
    if (!loaded) return EXPIRED;
    const { signIn, candidate } = loaded;
    const off = this.#offState(signIn, ['password']);
    if (off) return off;
    if (!username || !password) return this.#refused(signIn, 'invalid_input', { key: 'password.missing' }, username);

    const { uow, throttle, passwords, clock } = this.#deps;
    // A browser that signed in to this account before is not locked out by guesses from elsewhere.
    const knownDevice = requester.device && candidate && requester.device.accountId === candidate.id ? requester.device.id : null;
    const attempt = await throttle.password(uow.repos.throttle, username, requester.ip, knownDevice);
    // Locked by failures from elsewhere: an Ügyfélkapu+ method's proof may still get in.
    const chosen = this.#deps.factors.get(signIn.method);
    const proof = chosen?.guarded;
    if (!attempt && !knownDevice && chosen && proof && (await throttle.guarded(uow.repos.throttle, requester.ip))) {
      return this.#guard(signIn, requester, { username, password, candidate }, chosen, proof);
    }
    const check = await passwords.verify(attempt ? candidate?.passwordHash : undefined, password);
    const now = clock.now();
    if (!attempt || !candidate || !check.ok) {
      // A refused (locked) attempt is not checked against any account: it names none.
      const accountId = (attempt && candidate?.id) || null;
      const events: AuditEvent[] = [{ type: 'signin.password_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { locked: !attempt } }];
      if (attempt?.locked) events.push({ type: 'signin.locked', accountId, ip: requester.ip });
      // The citizen is told; a name that is nobody's gets a stand-in, as much work to the byte.
      if (attempt?.tell && this.#deps.mailer) await tellFailures(uow, this.#deps.mailer, candidate, attempt.tell, events, now);
      else await uow.repos.audit.record(events, now);
      return this.#refused(signIn, 'wrong_credentials', { key: 'password.failed' }, username);
    }

    const account: Account = { ...accountOf(candidate), factors: this.#deps.factors.pick(candidate.factorKinds), lang: isLang(candidate.lang) ? candidate.lang : null };
    return uow.transaction(async (r) => {
      // The flow's row before the throttle's, as every step takes them (no deadlock); a right password is no failure.
      const elsewhere = await this.#lock(r, signIn, ['password']);
      await throttle.succeeded(r.throttle, attempt);
      if (elsewhere) return elsewhere;
      if (check.rehash) await r.accounts.updatePasswordHash(account.id, check.rehash, now);
      const events: AuditEvent[] = [{ type: 'signin.password_ok', accountId: account.id, clientId: signIn.client?.id ?? null, ip: requester.ip }];
      const identified = { ...signIn, account };
      if (this.#passwordIsEnough(identified, now)) return this.#finish(r, identified, 'password', null, requester, events);
      await r.audit.record(events, now);
      const chosen = account.factors.find((f) => f.id === signIn.method);
      // "Ügyfélkapuval" at the portal, for an account that has a factor: that factor.
      const fallback = account.factors.length === 1 && signIn.method === LEGACY_METHOD ? account.factors[0] : undefined;
      const target = chosen ?? fallback;
      const state = target ? 'factor' : account.factors.length > 0 ? 'choose_factor' : 'upgrade';
      await r.signIns.update(uid, { state, accountId: account.id, factor: target?.id ?? null }, now);
      return target ? this.#begin(r, { ...identified, state, factor: target }, requester) : this.#advanced(signIn, null);
    });
  }

  /**
   * The username is locked by failures from elsewhere, and the citizen chose an Ügyfélkapu+
   * method: the password is checked all the same, and right or wrong the sign-in goes on to that
   * factor's proof (SPEC §5). With a right password the proof is real (a code is mailed); with a
   * wrong one it stands in, the same to look at and to answer, and never succeeds. So the lock
   * tells nobody whether a password was right, and strangers' failures lock out no citizen who
   * proves both. The step costs a try on the IP (the username's count stands locked).
   */
  async #guard(signIn: SignIn, requester: Requester, typed: { username: string; password: string; candidate: Candidate | null }, factor: Factor, proof: GuardedProof<unknown>): Promise<Outcome> {
    const { uow, passwords, clock } = this.#deps;
    const { candidate } = typed;
    const check = await passwords.verify(candidate?.passwordHash, typed.password);
    const proven = candidate && check.ok && candidate.factorKinds.includes(factor.id) ? candidate : null;
    const now = clock.now();
    return uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['password']);
      if (elsewhere) return elsewhere;
      const ctx = this.#guardedContext(r, signIn, proven, typed.username);
      const guard: Guard = { username: typed.username, kept: await proof.begin(ctx) };
      await r.signIns.update(signIn.uid, { state: 'guarded', accountId: proven?.id ?? null, factor: factor.id, guard: JSON.stringify(guard) }, now);
      const type = proven ? 'signin.password_ok' : 'signin.password_failed';
      await r.audit.record({ type, accountId: candidate?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { guarded: true, locked: true }, seenAs: 'signin.guarded' }, now);
      return this.#advanced(signIn, null);
    });
  }

  /** The answer to a guarded sign-in's proof: counted like any factor's (a stand-in on a key of its own). */
  async #verifyGuarded(signIn: SignIn, requester: Requester, form: FormFields): Promise<Outcome> {
    const { factor, guard, account } = signIn;
    const proof = factor?.guarded;
    if (!factor || !proof || !guard) return { kind: 'wrong_step', uid: signIn.uid };
    const input = factor.parse(form);
    if (input === undefined) return this.#refused(signIn, 'invalid_input', { key: 'code.format' });
    const { uow, throttle, clock } = this.#deps;
    const attempt = await throttle.factor(uow.repos.throttle, account?.id ?? standInKey(guard.username), requester.ip);
    if (!attempt) return this.#refused(signIn, 'locked', { key: 'throttle.locked' });
    return uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['guarded'], factor.id);
      if (elsewhere) {
        await r.throttle.settle([], attempt.counted);
        return elsewhere;
      }
      const ctx = this.#guardedContext(r, signIn, account, guard.username);
      const { verification, kept } = await proof.verify(ctx, guard.kept, input);
      const now = clock.now();
      if (!verification.ok || !account || !owns(account, factor)) {
        const notice = verification.ok ? { key: 'code.invalid' } : verification.notice;
        if (kept !== guard.kept) await r.signIns.update(signIn.uid, { state: 'guarded', guard: JSON.stringify({ ...guard, kept }) }, now);
        await r.audit.record({ type: 'signin.factor_failed', accountId: account?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: notice.key, guarded: true } }, now);
        return this.#refused({ ...signIn, guard: { ...guard, kept } }, 'wrong_answer', notice, undefined, r);
      }
      await throttle.succeeded(r.throttle, attempt);
      return this.#finish(r, signIn, 'two_factor', factor, requester, []);
    });
  }

  /** Pick (or switch to) one of the account's factors. */
  async chooseFactor(uid: string, requester: Requester, factorId: unknown): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    const off = this.#offState(signIn, ['choose_factor', 'factor']);
    if (off) return off;
    const factor = signIn.account?.factors.find((f) => f.id === factorId);
    if (!factor) return { kind: 'bad_request', code: 'unknown_factor' };
    return this.#deps.uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['choose_factor', 'factor']);
      if (elsewhere) return elsewhere;
      await r.signIns.update(uid, { state: 'factor', factor: factor.id }, this.#deps.clock.now());
      return this.#begin(r, { ...signIn, state: 'factor', factor }, requester);
    });
  }

  /** Checks the citizen's answer for the current factor (or for the factor being set up). */
  async verify(uid: string, requester: Requester, form: FormFields): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    if (signIn.state === 'enroll') return this.#confirmSetUp(signIn, requester, form);
    if (signIn.state === 'guarded') return this.#verifyGuarded(signIn, requester, form);
    const off = this.#offState(signIn, ['factor']);
    if (off) return off;
    const { factor, account } = signIn;
    if (factor?.status) return this.#collect(signIn, requester, factor, form);
    if (!factor || !account) return { kind: 'wrong_step', uid };
    if (!owns(account, factor)) return { kind: 'bad_request', code: 'unknown_factor' };
    const input = factor.parse(form);
    if (input === undefined) return this.#refused(signIn, 'invalid_input', { key: 'code.format' });

    const { uow, throttle, clock } = this.#deps;
    // Counted before the check, so parallel guesses cannot slip past the limit.
    const attempt = await throttle.factor(uow.repos.throttle, account.id, requester.ip);
    if (!attempt) return this.#refused(signIn, 'locked', { key: 'throttle.locked' });
    return uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['factor'], factor.id);
      if (elsewhere) {
        // Another request of this sign-in moved it on first (a double click): no guess.
        await r.throttle.settle([], attempt.counted);
        return elsewhere;
      }
      const result = await factor.verify(this.#context(r, signIn, account), input);
      if (!result.ok) {
        await r.audit.record(this.#factorFailure(signIn, account, factor, attempt, requester, result.notice), clock.now());
        return this.#refused(signIn, 'wrong_answer', result.notice, undefined, r);
      }
      // A right answer is no failure: take back its count (on the IP too, which many share).
      await throttle.succeeded(r.throttle, attempt);
      return this.#finish(r, signIn, 'two_factor', factor, requester, []);
    });
  }

  /** Asks the current factor (or the one being set up) for a fresh challenge (a new email). */
  async resend(uid: string, requester: Requester): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    if (signIn.state === 'enroll') return this.#resendSetUp(signIn);
    const off = this.#offState(signIn, ['factor']);
    if (off) return off;
    const { factor, account } = signIn;
    if (!factor?.resend || (!account && !isPasswordless(factor)) || (account && !owns(account, factor))) return { kind: 'bad_request', code: 'nothing_to_resend' };
    return this.#deps.uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['factor'], factor.id);
      if (elsewhere) return elsewhere;
      const ctx = { ...this.#flowContext(r, signIn), asking: asking(signIn, requester) };
      const notice = isPasswordless(factor) ? await factor.resend(ctx) : await factor.resend!({ ...ctx, account: account! });
      return notice.error ? this.#refused(signIn, 'rate_limited', notice, undefined, r) : this.#advanced(signIn, notice);
    });
  }

  /** Where an out-of-band factor's challenge stands, for a waiting page. Costs no try. */
  async status(uid: string, requester: Requester): Promise<StatusOutcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return { kind: 'expired' };
    const { factor, account } = signIn;
    if (signIn.state !== 'factor' || !factor?.status) return { kind: 'status', status: 'none' };
    if (isPasswordless(factor)) return { kind: 'status', status: await factor.status(this.#flowContext(this.#deps.uow.repos, signIn)) };
    if (!account) return { kind: 'status', status: 'none' };
    return { kind: 'status', status: await factor.status(this.#context(this.#deps.uow.repos, signIn, account)) };
  }

  /**
   * A password-only account, where a second factor is needed (the RP asks for it, or password
   * sign-in has ended), sets one up right here (SPEC §4) — an emailed code or the app — and then
   * goes on to the RP with the higher level.
   */
  async setUp(uid: string, requester: Requester, factorId: unknown): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    const off = this.#offState(signIn, ['upgrade', 'enroll']);
    if (off) return off;
    const factor = typeof factorId === 'string' ? this.#deps.factors.get(factorId) : undefined;
    const account = signIn.account;
    if (!factor || !account) return { kind: 'bad_request', code: 'unknown_factor' };
    return this.#deps.uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['upgrade', 'enroll']);
      if (elsewhere) return elsewhere;
      const begun = await this.#deps.enrollments.beginWith(r, account, factor.id, signIn.mailLang, this.#context(r, signIn, account).request);
      if (!begun.ok) return this.#refused(signIn, 'rate_limited', begun.notice, undefined, r);
      await r.signIns.update(uid, { state: 'enroll', factor: factor.id, enrollmentId: begun.enrollmentId }, this.#deps.clock.now());
      // The setup page itself says where the code went: no second notice saying it again.
      return this.#advanced(signIn, null);
    });
  }

  /** From the upgrade page: password only after all, where the RP and the cut-off allow it. */
  async continueWithPassword(uid: string, requester: Requester): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    const off = this.#offState(signIn, ['upgrade', 'enroll']);
    if (off) return off;
    if (!signIn.account || !this.#passwordAllowed(signIn, this.#deps.clock.now())) return { kind: 'wrong_step', uid };
    return this.#deps.uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['upgrade', 'enroll']);
      return elsewhere ?? this.#finish(r, signIn, 'password', null, requester, []);
    });
  }

  /**
   * The citizen allows an RP that asks for consent. The grant itself is the provider's
   * business (src/interactions/consent.ts); the core says whether this is the moment for it.
   */
  async consent(uid: string, requester: Requester): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    const off = this.#offState(signIn, ['choose_method', 'done']);
    if (off) return off;
    return signIn.prompt === 'consent' ? { kind: 'consent', uid } : this.#advanced(signIn, null);
  }

  /** The citizen cancels; the RP gets an OAuth error back. Welcome in every state. */
  async abort(uid: string, requester: Requester): Promise<Outcome> {
    const signIn = (await this.#load(uid, requester))?.signIn;
    if (!signIn) return EXPIRED;
    // After an upgrade page: OpenID Connect's error for "the level asked for cannot be reached".
    const [error, description] =
      signIn.state === 'upgrade'
        ? ['unmet_authentication_requirements', 'the account has no second factor']
        : ['access_denied', 'the citizen cancelled the sign-in'];
    const now = this.#deps.clock.now();
    return this.#deps.uow.transaction(async (r) => {
      // A portal sign-in has no RP to tell: the citizen is back at the portal.
      const returnTo = signIn.kind === 'portal' ? PORTAL_HOME : await finishWithError(r, uid, error, description, now);
      if (!returnTo) return EXPIRED;
      const accountId = signIn.account?.id ?? null;
      if (signIn.kind === 'portal') await r.signIns.update(uid, { state: 'done' }, now);
      await r.audit.record({ type: 'signin.aborted', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { error } }, now);
      return { kind: 'finished', returnTo, accountId };
    });
  }

  // ---------------------------------------------------------------------------------------

  /** The one read a step starts from (and, with `candidate`, the account that username names). */
  async #load(uid: string, requester: Requester, candidate?: string): Promise<{ signIn: SignIn; candidate: Candidate | null } | undefined> {
    const { uow, clock, clients, acr, factors } = this.#deps;
    const loaded = await uow.repos.signIns.load(uid, clock.now(), 'choose_method', candidate);
    if (!loaded) return undefined;
    const row: SignInRow = loaded.signIn;
    const account = row.account && { ...accountOf(row.account), factors: factors.pick(row.account.factorKinds), lang: isLang(row.account.lang) ? row.account.lang : null };
    const flow = {
      uid,
      kind: row.kind,
      state: isFlowState(row.state) ? row.state : ('choose_method' as const),
      method: row.method,
      factor: factors.get(row.factor),
      enrollmentId: row.enrollmentId,
      account,
      guard: parseGuard(row.guard),
    };
    if (row.kind === 'portal' || !row.interaction) {
      // The portal asks for no level: an account signs in with what it has (SPEC §2).
      const lang = requester.lang ?? requester.preferred ?? DEFAULT_LANG;
      const signIn = { ...flow, client: null, need: 'password' as const, lang, browser: requester.browser, mailLang: lang, redirectUri: undefined, prompt: 'login' };
      return { signIn, candidate: loaded.candidate };
    }
    const request = requestOf(row.interaction);
    const client = await clients.find(request.clientId);
    if (!client) return undefined;
    const lang = requester.lang ?? pickLang(request.uiLocales) ?? requester.preferred ?? DEFAULT_LANG;
    return {
      signIn: {
        ...flow,
        client: { id: client.clientId, name: client.name, logoSha256: client.logoSha256, homepage: client.homepage },
        need: acr.required(request.acrValues, client.minAcr),
        lang,
        browser: requester.browser,
        mailLang: lang,
        redirectUri: request.redirectUri,
        prompt: request.prompt,
      },
      candidate: loaded.candidate,
    };
  }

  /**
   * May this sign-in end with the password alone? Only for an account that has no second factor:
   * once it has one, a stolen password alone opens nothing. At an RP: the "Ügyfélkapuval" method,
   * while the cut-off allows it and the RP accepts the level. At the portal: at any time (after
   * the cut-off it is where such an account gets one).
   */
  #passwordIsEnough(signIn: SignIn & { account: Account }, now: Date): boolean {
    if (signIn.account.factors.length > 0) return false;
    if (signIn.kind === 'portal') return true;
    return signIn.method === LEGACY_METHOD && this.#passwordAllowed(signIn, now);
  }

  /** An RP sign-in may end at the password level: the RP accepts it and the cut-off allows it. */
  #passwordAllowed(signIn: SignIn, now: Date): boolean {
    return signIn.kind === 'rp' && signIn.need === 'password' && this.#deps.acr.legacyAllowed(now);
  }

  /** The proof for the factor being set up: once confirmed, the sign-in goes on with it. */
  async #confirmSetUp(signIn: SignIn, requester: Requester, form: FormFields): Promise<Outcome> {
    const { account, enrollmentId, factor } = signIn;
    if (!account || !enrollmentId || !factor) return { kind: 'wrong_step', uid: signIn.uid };
    if (factor.parse(form) === undefined) return this.#refused(signIn, 'invalid_input', { key: 'code.format' });
    const { uow, throttle, enrollments } = this.#deps;
    const attempt = await throttle.factor(uow.repos.throttle, account.id, requester.ip);
    if (!attempt) return this.#refused(signIn, 'locked', { key: 'throttle.locked' });
    return uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['enroll'], factor.id);
      if (elsewhere) {
        await r.throttle.settle([], attempt.counted);
        return elsewhere;
      }
      const confirmed = await enrollments.confirmWith(r, account, enrollmentId, form, attempt, { ip: requester.ip, lang: signIn.mailLang });
      if (!confirmed.ok) {
        if (confirmed.refusal === 'expired') {
          // The setup took too long: back to the choice, to begin again.
          await r.signIns.update(signIn.uid, { state: 'upgrade', factor: null, enrollmentId: null }, this.#deps.clock.now());
          return this.#refused({ ...signIn, state: 'upgrade', factor: undefined, enrollmentId: null }, 'wrong_answer', confirmed.notice, undefined, r);
        }
        return this.#refused(signIn, confirmed.refusal, confirmed.notice, undefined, r);
      }
      const withFactor = { ...signIn, account: { ...account, factors: [...account.factors, confirmed.factor] } };
      return this.#finish(r, withFactor, 'two_factor', confirmed.factor, requester, [], confirmed.shownOnce);
    });
  }

  async #resendSetUp(signIn: SignIn): Promise<Outcome> {
    const { account, enrollmentId } = signIn;
    if (!account || !enrollmentId) return { kind: 'wrong_step', uid: signIn.uid };
    return this.#deps.uow.transaction(async (r) => {
      const notice = await this.#deps.enrollments.resend(r, account, enrollmentId, signIn.mailLang, this.#context(r, signIn, account).request);
      if (!notice) return { kind: 'bad_request', code: 'nothing_to_resend' };
      return notice.error ? this.#refused(signIn, 'rate_limited', notice, undefined, r) : this.#advanced(signIn, notice);
    });
  }

  /** The outcome for a step posted in a state it does not accept, or null when it fits. */
  #offState(signIn: Pick<SignIn, 'uid' | 'state'>, accepted: FlowState[]): Outcome | null {
    if (accepted.includes(signIn.state)) return null;
    return signIn.state === 'done' ? { kind: 'already_finished', uid: signIn.uid } : { kind: 'wrong_step', uid: signIn.uid };
  }

  /**
   * Locks the flow for the rest of the unit of work and checks it still is where the step
   * found it (and at the same factor); the outcome when it is not, or null.
   */
  async #lock(r: TxRepos, signIn: SignIn, accepted: FlowState[], factor?: string): Promise<Outcome | null> {
    const flow = await r.signIns.lock(signIn.uid);
    if (!flow) return EXPIRED;
    const state = isFlowState(flow.state) ? flow.state : 'choose_method';
    const off = this.#offState({ uid: signIn.uid, state }, accepted);
    if (off) return off;
    return factor !== undefined && flow.factor !== factor ? { kind: 'wrong_step', uid: signIn.uid } : null;
  }

  /** A one-statement move of the flow (from one of `from`); who loses a race is told why. */
  async #advance(signIn: SignIn, from: FlowState[], change: { state: FlowState; method: string | null; factor?: null }): Promise<Outcome> {
    const { signIns } = this.#deps.uow.repos;
    if (await signIns.advance(signIn.uid, from, change, this.#deps.clock.now())) return this.#advanced(signIn, null);
    const state = await signIns.state(signIn.uid);
    if (state === undefined) return EXPIRED;
    return this.#offState({ uid: signIn.uid, state: isFlowState(state) ? state : 'choose_method' }, from) ?? { kind: 'wrong_step', uid: signIn.uid };
  }

  /** Starts the factor the flow just moved to (an emailed code is sent here). */
  async #begin(r: Repos, signIn: SignIn & { factor: Factor }, requester: Requester): Promise<Outcome> {
    const notice = await signIn.factor.begin({ ...this.#context(r, signIn, signIn.account!), asking: asking(signIn, requester) });
    // A refused start (the hourly code cap) is said as such: never "sent".
    return notice?.error ? this.#refused(signIn, 'rate_limited', notice, undefined, r) : this.#advanced(signIn, notice);
  }

  /**
   * Ends the sign-in, in the caller's unit of work with the step's audit events: the flow is
   * done, and the RP's interaction gets its result (accountId, acr, amr) — or, at the portal,
   * a portal session is opened. `shownOnce`: what a factor set up inline shows once (the
   * törlőkód) before the browser goes on.
   */
  async #finish(r: Repos, signIn: SignIn, level: Level, factor: Factor | null, requester: Requester, events: AuditEvent[], shownOnce: Record<string, string> | null = null): Promise<Outcome> {
    const { acr, clock, portalSessions } = this.#deps;
    const accountId = signIn.account!.id;
    const now = clock.now();
    if (level === 'two_factor' && factor?.level) level = factor.level;
    // Never a lower level than the RP asked for (a level only the phone app reaches).
    if (signIn.kind === 'rp' && !acr.satisfies(level, signIn.need)) return this.#refused(signIn, 'wrong_answer', { key: 'level.too_low' }, undefined, r);
    let returnTo: string | undefined = PORTAL_HOME;
    let session: { token: string; expiresAt: Date } | undefined;
    if (signIn.kind === 'portal') {
      session = await portalSessions.open(r, accountId, { ip: requester.ip, browser: requester.browser }, signIn.uid);
    } else {
      returnTo = await finishWithLogin(r, signIn.uid, { accountId, acr: acr.acrOf(level), amr: amrFor(factor?.amr ?? null, !signIn.passwordless) }, now);
      if (!returnTo) return EXPIRED;
    }
    // The language the citizen finished in becomes theirs: mails sent outside a sign-in are written in it.
    await r.signIns.markDone(signIn.uid, accountId, signIn.lang, now);
    const { mailer, newBrowserMail } = this.#deps;
    if (newBrowserMail && mailer && isNewBrowser(requester, accountId)) await queueNewBrowserMail(r, mailer, signIn.account!, signIn.mailLang, { service: serviceOf(signIn), who: requester, now });
    const detail = { method: factor?.id ?? 'password', acr: acr.acrOf(level), ...(requester.browser && { browser: requester.browser }), ...(signIn.kind === 'portal' && { portal: true }) };
    events.push({ type: 'signin.succeeded', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail });
    await r.audit.record(events, now);
    return { kind: 'finished', returnTo, accountId, ...(session && { portalSession: session }), ...(shownOnce && { shownOnce }) };
  }

  #factorFailure(signIn: SignIn, account: Account, factor: Factor, attempt: Attempt, requester: Requester, notice: Notice): AuditEvent[] {
    const failed: AuditEvent = { type: 'signin.factor_failed', accountId: account.id, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: notice.key } };
    return attempt.locked ? [{ type: 'signin.locked', accountId: account.id, ip: requester.ip, detail: { factor: factor.id } }, failed] : [failed];
  }

  #context<A extends FactorAccount | null>(repos: Repos, signIn: SignIn, account: A): Omit<FactorContext, 'account'> & { account: A } {
    // A factor's words go into mails, in the language the citizen is reading.
    return { flowId: signIn.uid, account, lang: signIn.mailLang, repos, request: { service: serviceOf(signIn), browser: signIn.browser } };
  }

  /** A guarded sign-in's context: the account only where the password was right; the username as typed. */
  #guardedContext(repos: Repos, signIn: SignIn, account: FactorAccount | null, username: string): GuardedContext {
    return { ...this.#context(repos, signIn, account ? accountOf(account) : null), username };
  }

  /** A passwordless factor's context: the account, if the sign-in knows it yet. */
  #flowContext(repos: Repos, signIn: SignIn): FlowContext {
    return { flowId: signIn.uid, account: signIn.account ? accountOf(signIn.account) : null, lang: signIn.lang, repos };
  }

  /** A passwordless factor chosen on the method chooser: straight to it, no password. */
  async #beginAlone(signIn: SignIn, requester: Requester, factor: PasswordlessFactor): Promise<Outcome> {
    return this.#deps.uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['choose_method']);
      if (elsewhere) return elsewhere;
      await r.signIns.update(signIn.uid, { state: 'factor', method: factor.id, factor: factor.id }, this.#deps.clock.now());
      const notice = await factor.begin({ ...this.#flowContext(r, signIn), asking: asking(signIn, requester) });
      return notice?.error ? this.#refused(signIn, 'rate_limited', notice, undefined, r) : this.#advanced(signIn, null);
    });
  }

  /**
   * An out-of-band factor's answer was given elsewhere (approved on a phone): the browser only
   * collects it. That is no guess, so it costs no throttle try (the phone's PIN is counted by
   * the device API); still waiting shows the waiting page again. A passwordless factor's
   * approval names the account the sign-in ends with.
   */
  async #collect(signIn: SignIn, requester: Requester, factor: Factor, form: FormFields): Promise<Outcome> {
    const input = factor.parse(form);
    if (input === undefined) return this.#refused(signIn, 'invalid_input', { key: 'code.format' });
    const alone = !signIn.account && isPasswordless(factor);
    if (!signIn.account && !alone) return { kind: 'wrong_step', uid: signIn.uid };
    const { uow, clock } = this.#deps;
    return uow.transaction(async (r) => {
      const elsewhere = await this.#lock(r, signIn, ['factor'], factor.id);
      if (elsewhere) return elsewhere;
      const result = alone ? await (factor as PasswordlessFactor).verify(this.#flowContext(r, signIn), input) : await factor.verify(this.#context(r, signIn, signIn.account!), input);
      if (!result.ok) {
        if (result.notice.key.endsWith('.waiting')) return { kind: 'show', shown: await this.#shown(signIn, r), notice: result.notice };
        const accountId = signIn.account?.id ?? null;
        await r.audit.record({ type: 'signin.factor_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: result.notice.key } }, clock.now());
        return this.#refused(signIn, 'wrong_answer', result.notice, undefined, r);
      }
      if (!alone) return this.#finish(r, signIn, 'two_factor', factor, requester, []);
      const found = result.accountId ? await r.accounts.findById(result.accountId) : undefined;
      if (!found) return this.#refused(signIn, 'wrong_answer', { key: 'error.bad_request' }, undefined, r);
      const account = { ...accountOf(found), factors: [] };
      return this.#finish(r, { ...signIn, account, passwordless: true }, 'two_factor', factor, requester, []);
    });
  }

  #advanced(signIn: SignIn, notice: Notice | null): Outcome {
    return { kind: 'advanced', uid: signIn.uid, notice };
  }

  async #refused(signIn: SignIn, refusal: Refusal, notice: Notice, username?: string, repos: Repos = this.#deps.uow.repos): Promise<Outcome> {
    return { kind: 'refused', refusal, notice: { ...notice, error: true }, shown: await this.#shown(signIn, repos, username) };
  }

  async #shown(signIn: SignIn, repos: Repos, username = ''): Promise<Shown> {
    return {
      uid: signIn.uid,
      // A guarded sign-in names no account until it is proved: not even to the logs.
      accountId: signIn.state === 'guarded' ? null : (signIn.account?.id ?? null),
      lang: signIn.lang,
      client: signIn.client,
      redirectUri: signIn.redirectUri,
      page: await this.#page(signIn, repos, username),
    };
  }

  #factorChoice(signIn: SignIn): SignInPage {
    const owned = signIn.account?.factors ?? [];
    return { state: 'choose_factor', factors: owned.map(option), chosenMissing: signIn.method !== LEGACY_METHOD && !owned.some((f) => f.id === signIn.method) };
  }

  async #page(signIn: SignIn, repos: Repos, username: string): Promise<SignInPage> {
    const { factors, acr, clock } = this.#deps;
    switch (signIn.state) {
      case 'choose_method':
      case 'done': {
        const methods: MethodOption[] = factors.all().map(option);
        // Password-only sign-in is offered while the cut-off allows it and the RP accepts it;
        // at the portal always (an account with a factor goes on to it).
        if (signIn.kind === 'portal') methods.push({ id: LEGACY_METHOD, labelKey: 'method.legacy' });
        else if (this.#passwordAllowed(signIn, clock.now())) methods.push({ id: LEGACY_METHOD, labelKey: 'method.legacy', legacy: { until: acr.legacyUntil } });
        // After the cut-off the chooser says why "Ügyfélkapuval" is gone, and which method sets Ügyfélkapu+ up.
        const since = signIn.kind === 'rp' && !acr.legacyAllowed(clock.now()) ? acr.legacyUntil : null;
        const setUp = factors.all().find((f) => f.setUpFirst);
        return { state: 'choose_method', methods, ...(since && setUp && { legacyEnded: { since, setUp: option(setUp) } }) };
      }
      case 'password':
        return { state: 'password', method: { id: signIn.method ?? LEGACY_METHOD, labelKey: factors.get(signIn.method)?.labelKey ?? 'method.legacy' }, username };
      case 'factor': {
        const { factor, account } = signIn;
        if (!account && isPasswordless(factor)) {
          return { state: 'factor', factor: option(factor), view: await factor.view(this.#flowContext(repos, signIn)), others: [], canResend: true };
        }
        // A flow at a factor the registry no longer knows: the citizen chooses again.
        if (!factor || !account) return this.#factorChoice(signIn);
        return {
          state: 'factor',
          factor: option(factor),
          view: await factor.view(this.#context(repos, signIn, account)),
          others: account.factors.filter((f) => f !== factor).map(option),
          canResend: factor.resend !== undefined,
        };
      }
      case 'guarded': {
        const { factor, guard, account } = signIn;
        if (!factor?.guarded || !guard) return this.#factorChoice(signIn);
        const ctx = this.#guardedContext(repos, signIn, account, guard.username);
        return { state: 'factor', factor: option(factor), view: factor.guarded.view(ctx, guard.kept), others: [], canResend: false, guarded: true };
      }
      case 'choose_factor':
        return this.#factorChoice(signIn);
      case 'upgrade':
        return {
          state: 'upgrade',
          reason: signIn.need === 'two_factor' ? 'required' : signIn.method !== LEGACY_METHOD ? 'not_enrolled' : 'cutoff',
          setUp: factors.all().map(option),
          passwordOnly: this.#passwordAllowed(signIn, clock.now()),
        };
      case 'enroll': {
        const { account, enrollmentId, factor } = signIn;
        const shown = account && enrollmentId ? await this.#deps.enrollments.view(repos, account, enrollmentId, signIn.lang) : undefined;
        if (!shown || !factor) return { state: 'upgrade', reason: 'cutoff', setUp: factors.all().map(option), passwordOnly: false };
        return { state: 'enroll', factor: option(factor), view: shown.view, canResend: factor.enroll.resend !== undefined };
      }
    }
  }
}

/** Who asks, for a factor that shows it elsewhere (the phone app). */
function asking(signIn: SignIn, requester: Requester): { client: string | null; ip: string; browser: string | null } {
  return { client: serviceOf(signIn), ip: requester.ip, browser: requester.browser };
}

/** The service signed into, by name, for mails and the phone; null: kapu's own account portal. */
function serviceOf(signIn: Pick<SignIn, 'client'>): string | null {
  return signIn.client ? (signIn.client.name ?? signIn.client.id) : null;
}

function option(f: Factor): Option {
  return { id: f.id, labelKey: f.labelKey };
}

function parseGuard(raw: string | null): Guard | null {
  if (!raw) return null;
  const guard = JSON.parse(raw) as Partial<Guard>;
  return typeof guard.username === 'string' && typeof guard.kept === 'string' ? { username: guard.username, kept: guard.kept } : null;
}

function accountOf(row: { id: string; username: string; name: string; email: string }): FactorAccount {
  return { id: row.id, username: row.username, name: row.name, email: row.email };
}

/** Does the account still have this factor? One removed since the sign-in chose it proves nothing. */
function owns(account: Account, factor: Factor): boolean {
  return account.factors.some((f) => f.id === factor.id);
}

function boundedString(value: unknown, maxLength: number): string | undefined {
  return typeof value === 'string' && value.length <= maxLength ? value : undefined;
}
