/** The sign-in as every step sees it: its types, the one read a step starts from, the contexts a factor gets, small helpers. */
import type { Clock, Random } from '../../clock.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { LiveCode } from '../../db/repositories/one-time-codes.ts';
import type { Candidate, SignInRow } from '../../db/repositories/sign-ins.ts';
import type { UnitOfWork } from '../../db/unit-of-work.ts';
import type { ChallengeStatus, Factor, FactorAccount, FactorContext, FactorRegistry, FlowContext, GuardedContext } from '../../factors/factor.ts';
import type { Mailer } from '../../mail/mailer.ts';
import { requestOf } from '../../oidc/interaction-store.ts';
import type { PasswordHasher } from '../../security/passwords.ts';
import { type Counted, type StepCount, type Throttle } from '../../security/throttle.ts';
import { type Lang, isLang, pickLang } from '../../views.ts';
import type { Who } from '../who.ts';
import { type FlowState, LEGACY_METHOD, isFlowState } from '../flow.ts';
import { type AcrPolicy, type Level } from '../levels.ts';
import type { EnrollmentService } from '../enrollment.ts';
import type { Outcome, ShownClient } from '../outcomes.ts';
import type { Option } from '../pages.ts';
import type { PortalSessions } from '../portal-sessions.ts';

export const USERNAME_MAX_LENGTH = 200;
export const CHOICE_MAX_LENGTH = 32;

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
export const PORTAL_SIGN_IN_SECONDS = 60 * 60;
/** Where a finished (or cancelled) portal sign-in lands. */
export const PORTAL_HOME = '/account';

/** `lang`: the citizen's own language (their last finished sign-in's), which their mails use. */
export type Account = FactorAccount & { factors: Factor[]; lang?: Lang | null };

/** A sign-in as a step sees it. */
export interface SignIn {
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
export interface Guard {
  username: string;
  kept: string;
}

export type StatusOutcome = { kind: 'status'; status: ChallengeStatus | 'none' } | { kind: 'expired' };

export const EXPIRED: Outcome = { kind: 'expired' };


/**
 * The one read a step starts from (and, with `candidate`, the account that username names; with
 * `count`, the step's guess counted in the same statement, while the flow is where it is answered).
 */
export async function load(deps: SignInDeps, uid: string, requester: Who, candidate?: string, count?: StepCount): Promise<{ signIn: SignIn; candidate: Candidate | null; counted?: Counted[]; code?: LiveCode | null } | undefined> {
  const { uow, clock, clients, acr, factors } = deps;
  const loaded = await uow.repos.signIns.load(uid, clock.now(), 'choose_method', candidate, count);
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
    const lang = requester.lang;
    const signIn = { ...flow, client: null, need: 'password' as const, lang, browser: requester.browser, mailLang: lang, redirectUri: undefined, prompt: 'login' };
    return { signIn, candidate: loaded.candidate, ...(loaded.counted && { counted: loaded.counted }), ...(loaded.code !== undefined && { code: loaded.code }) };
  }
  const request = requestOf(row.interaction);
  const client = await clients.find(request.clientId);
  if (!client) return undefined;
  const lang = (requester.langChosen ? undefined : pickLang(request.uiLocales)) ?? requester.lang;
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
    ...(loaded.counted && { counted: loaded.counted }),
    ...(loaded.code !== undefined && { code: loaded.code }),
  };
}

/**
 * May this sign-in end with the password alone? Only for an account that has no second factor:
 * once it has one, a stolen password alone opens nothing. At an RP: the "Ügyfélkapuval" method,
 * while the cut-off allows it and the RP accepts the level. At the portal: at any time (after
 * the cut-off it is where such an account gets one).
 */
export function passwordIsEnough(deps: SignInDeps, signIn: SignIn & { account: Account }, now: Date): boolean {
  if (signIn.account.factors.length > 0) return false;
  if (signIn.kind === 'portal') return true;
  return signIn.method === LEGACY_METHOD && passwordAllowed(deps, signIn, now);
}

/** An RP sign-in may end at the password level: the RP accepts it and the cut-off allows it. */
export function passwordAllowed(deps: SignInDeps, signIn: SignIn, now: Date): boolean {
  return signIn.kind === 'rp' && signIn.need === 'password' && deps.acr.legacyAllowed(now);
}

export function context<A extends FactorAccount | null>(repos: Repos, signIn: SignIn, account: A): Omit<FactorContext, 'account'> & { account: A } {
  // A factor's words go into mails, in the language the citizen is reading.
  return { flowId: signIn.uid, account, lang: signIn.mailLang, repos, request: { service: serviceOf(signIn), browser: signIn.browser } };
}

/** A guarded sign-in's context: the account only where the password was right; the username as typed. */
export function guardedContext(repos: Repos, signIn: SignIn, account: FactorAccount | null, username: string): GuardedContext {
  return { ...context(repos, signIn, account ? accountOf(account) : null), username };
}

/** A passwordless factor's context: the account, if the sign-in knows it yet. */
export function flowContext(repos: Repos, signIn: SignIn): FlowContext {
  return context(repos, signIn, signIn.account ? accountOf(signIn.account) : null);
}

/** Who asks, for a factor that shows it elsewhere (the phone app). */
export function asking(signIn: SignIn, requester: Who): FactorContext['asking'] & object {
  return { client: serviceOf(signIn), ip: requester.ip, browser: requester.browser };
}

/** The service signed into, by name, for mails and the phone; null: kapu's own account portal. */
export function serviceOf(signIn: Pick<SignIn, 'client'>): string | null {
  return signIn.client ? (signIn.client.name ?? signIn.client.id) : null;
}

export function option(f: Factor): Option {
  return { id: f.id, labelKey: f.labelKey, ...(f.needs && { needs: f.needs }) };
}

export function parseGuard(raw: string | null): Guard | null {
  if (!raw) return null;
  const guard = JSON.parse(raw) as Partial<Guard>;
  return typeof guard.username === 'string' && typeof guard.kept === 'string' ? { username: guard.username, kept: guard.kept } : null;
}

export function accountOf(row: { id: string; username: string; name: string; email: string }): FactorAccount {
  return { id: row.id, username: row.username, name: row.name, email: row.email };
}

/** Does the account still have this factor? One removed since the sign-in chose it proves nothing. */
export function owns(account: Account, factor: Factor): boolean {
  return account.factors.some((f) => f.id === factor.id);
}

export function boundedString(value: unknown, maxLength: number): string | undefined {
  return typeof value === 'string' && value.length <= maxLength ? value : undefined;
}

/**
 * A passwordless factor that proves a sign-in after the password too, and under a username lock
 * (its guarded proof, which only the password's way reaches): its passwordless page offers the
 * password's way.
 */
export function passwordToo(factor: Factor): boolean {
  return factor.passwordless !== undefined && factor.signIn !== undefined && factor.guarded !== undefined;
}
