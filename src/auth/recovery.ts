/**
 * The ways back into an account that are open to anyone (SPEC §2), HTTP-free:
 * - "Elfelejtett jelszó": a code to the account's address (and any one of the account's own
 *   proofs, when it has some: the app's code, a device's key), then a new password. Both steps
 *   do the same work, and answer the same, for any username — a citizen's, a disabled account's
 *   or nobody's (SPEC §5): the request is made in the name's name (recovery-requests.ts), and
 *   the second step reads the request and its account in one statement, counts the try, hashes
 *   the new password and checks the code whoever is behind it.
 * - The lost phone: username, password and the app's törlőkód remove the app. Throttled like a
 *   password, with one answer for any wrong part.
 */
import { type Clock, type Random, digits } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import { type FactorRegistry, type FormFields, parseCode } from '../factors/factor.ts';
import { type Mailer, NOBODY } from '../mail/mailer.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from '../security/passwords.ts';
import { type Throttle, standInKey } from '../security/throttle.ts';
import { PASSWORD_MIN_LENGTH, accountOf } from './account.ts';
import type { Who } from './who.ts';
import { type Result, refuse } from './result.ts';
import { type ProofFailed, type ProofPart, answersTo, proofParts, proveAnyOne, resetProofs } from './reset-proofs.ts';
import type { Lang } from '../views.ts';
import type { EnrollmentService } from './enrollment.ts';
import type { RecoveryRequests } from './recovery-requests.ts';

export interface RecoveryDeps {
  uow: UnitOfWork<Repos>;
  enrollments: EnrollmentService;
  factors: FactorRegistry;
  passwords: PasswordHasher;
  throttle: Throttle;
  requests: RecoveryRequests;
  mailer: Mailer;
  clock: Clock;
  random: Random;
  /** Wrong tries before a reset's code is dead (CODE_MAX_ATTEMPTS). */
  maxAttempts: number;
}

const USERNAME_MAX_LENGTH = 200;

const refused = refuse;
/** One answer for every failed forgotten-password step, whatever the username was. */
const RESET_REFUSED = refused('wrong_answer', 'account.reset_failed');
/** The address or the name asked too often: the same for every name. */
const TOO_MANY = refused('rate_limited', 'recovery.too_many');

export class RecoveryService {
  readonly #deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /**
   * A forgotten password, step one: a code to the address of the account the name names, a
   * stand-in for a name that is nobody's. The answer — a request id for the next page — is the
   * same for every username (a malformed one gets an id and no work).
   */
  async beginReset(username: unknown, who: Who): Promise<Result<{ changeId: string }>> {
    const name = typeof username === 'string' && username.length <= USERNAME_MAX_LENGTH ? username.trim() : '';
    const { requests, mailer, clock, random } = this.#deps;
    if (!name) return { ok: true, changeId: random.uuid() };
    const minutes = Math.round(requests.ttlSeconds / 60);
    const asked = await requests.ask({
      kind: 'reset',
      username: name,
      who,
      make: ({ tag, to }) => {
        const code = digits(random, 6);
        const message = mailer.code(to?.email ?? NOBODY, who.lang, { kind: 'reset', name: to?.name ?? '', username: to?.username ?? name, tag, code, minutes, at: clock.now(), service: null, browser: who.browser });
        return { secret: code, message };
      },
    });
    return asked.ok ? { ok: true, changeId: asked.id } : TOO_MANY;
  }

  /**
   * A forgotten password, step two: the mailed code (and any one of the account's own proofs —
   * the app's code, a device's key — for an account that has one) and the new password twice.
   * Every session and RP token of the account ends, its username's lock with them, and a mail
   * says so. `accountId` names the account on success.
   */
  async completeReset(requestId: string, form: FormFields, who: Who): Promise<Result<{ accountId: string }>> {
    const { uow, clock, passwords, throttle, requests, mailer, maxAttempts } = this.#deps;
    const password = typeof form['password'] === 'string' && form['password'].length <= PASSWORD_MAX_LENGTH ? form['password'] : '';
    if (password.length < PASSWORD_MIN_LENGTH) return refused('invalid_input', 'account.password_short', { min: PASSWORD_MIN_LENGTH });
    if (form['password2'] !== password) return refused('invalid_input', 'account.password_mismatch');
    const emailCode = parseCode(form);
    if (!emailCode) return refused('invalid_input', 'code.format');
    // Besides the mailed code: what the account's own factors prove (the app's code, a device's
    // key), read from the form whoever the name is.
    const answers = answersTo(resetProofs(this.#deps.factors).filter((f) => !f.proveReset.byMailbox), form);

    // The same work for every name from here: one read, a counted try, the new password hashed.
    const open = await uow.repos.recovery.findOpen(requestId, 'reset', clock.now());
    if (!open) return RESET_REFUSED;
    const { account } = open;
    const attempt = await throttle.factor(uow.repos.throttle, account?.id ?? standInKey(open.username), who.ip);
    if (!attempt) return RESET_REFUSED;
    const hash = await passwords.hash(password);
    return uow.transaction(async (r) => {
      const now = clock.now();
      const tried = await r.recovery.countTry(requestId, now, maxAttempts);
      if (!tried || !account || !requests.matches(requestId, emailCode.code, tried.secretHash)) {
        // Listed among the account's events as a wrong code of the factor the mailbox proves.
        const mailbox = resetProofs(this.#deps.factors).find((f) => f.proveReset.byMailbox);
        await r.audit.record({ type: 'signin.factor_failed', accountId: account?.id ?? null, ip: who.ip, detail: { ...(mailbox && { factor: mailbox.id }), purpose: 'password' } }, now);
        return RESET_REFUSED;
      }
      // Past the mailed code: an account with factors of its own (the app, a device's key) proves
      // any one of them too (a mailbox alone must not take it over; a lost phone must not lock it out).
      const own = answers.filter((a) => account.factorKinds.includes(a.factor.id));
      const failed: ProofFailed = (factor, refusal) =>
        r.audit.record({ type: 'signin.factor_failed', accountId: account.id, ip: who.ip, detail: { ...(factor && { factor }), purpose: 'password', ...(refusal && { refusal }) } }, now);
      if (own.length > 0 && !(await proveAnyOne(own, { flowId: requestId, account, lang: who.lang, repos: r }, failed)).ok) return RESET_REFUSED;
      if (!(await r.recovery.use(requestId, now))) return RESET_REFUSED;
      // The counters before the account's row, and in key order (factor, address, username), as
      // every step takes them: two steps racing wait for each other, never in a circle.
      await throttle.succeeded(r.throttle, attempt);
      // A new password is also a way back in after a hard lock (the username's count is gone).
      await throttle.unlock(r.throttle, account.username);
      await r.accounts.updatePasswordHash(account.id, hash, now);
      await r.portalSessions.removeForAccount(account.id);
      await r.payloads.revokeByAccountId(account.id);
      await r.audit.record({ type: 'password.reset', accountId: account.id, ip: who.ip, detail: { ...(who.browser && { browser: who.browser }) } }, now);
      await mailer.queue(r.outbox, mailer.notice(account.email, who.lang, { key: 'mail.password_reset', name: account.name }), now);
      return { ok: true, accountId: account.id };
    });
  }

  /**
   * What a forgotten password's page asks for: what any account might need, so it tells nothing.
   * A part that needs a challenge gets one bound to the request, naming no account.
   */
  resetProofs(requestId: string, lang: Lang): Promise<ProofPart[]> {
    return this.#deps.uow.transaction((r) => proofParts(resetProofs(this.#deps.factors), { flowId: requestId, account: null, lang, repos: r }));
  }

  /** The munkamenet-azonosító a new password's page shows, as its code mail does (the same for any username). */
  resetTag(changeId: string): string {
    return this.#deps.requests.tagOf(changeId);
  }

  /**
   * The lost phone: username + password + törlőkód remove the factor the törlőkód belongs to
   * (the authenticator app). Counted as a password guess; unknown user, wrong password, wrong
   * or missing törlőkód: one answer.
   */
  async removeWithRecoveryCode(username: unknown, password: unknown, recoveryCode: unknown, who: Who): Promise<Result> {
    const { uow, throttle, passwords, clock } = this.#deps;
    const factor = this.#deps.factors.all().find((f) => f.removal?.recoveryCode);
    const recovery = factor?.removal?.recoveryCode;
    const name = typeof username === 'string' && username.length <= USERNAME_MAX_LENGTH ? username.trim() : '';
    const typed = typeof password === 'string' && password.length <= PASSWORD_MAX_LENGTH ? password : '';
    const code = typeof recoveryCode === 'string' && recoveryCode.length <= 64 && recovery ? recovery.normalize(recoveryCode) : '';
    const failed = refuse('wrong_credentials', 'recovery.failed');
    if (!factor || !recovery || !name || !typed || !code) return refuse('invalid_input', 'recovery.missing');

    const attempt = await throttle.password(uow.repos.throttle, name, who.ip);
    const account = attempt ? await uow.repos.accounts.recoveryCredentials(name, factor.id) : undefined;
    const passwordOk = await passwords.verify(account?.password_hash, typed);
    // The second hash check runs either way: the answer takes the same time for every failure.
    const codeOk = await passwords.verify((passwordOk.ok && account?.recovery_hash) || undefined, code);
    if (!attempt || !account || !passwordOk.ok || !codeOk.ok) {
      // The account's own list of events says which part was wrong (a right password is worth knowing of).
      const wrongPart: Record<string, string> = attempt && account && passwordOk.ok ? { failed: 'recovery_code' } : {};
      await uow.repos.audit.record({ type: 'signin.password_failed', accountId: (attempt && account?.id) || null, ip: who.ip, detail: { purpose: 'recovery', locked: !attempt, ...wrongPart } }, clock.now());
      return failed;
    }
    return uow.transaction(async (r) => {
      await throttle.succeeded(r.throttle, attempt);
      const owner = await accountOf(r, account.id);
      if (!owner || !(await this.#deps.enrollments.remove(r, owner, factor.id, who.lang, 'recovery_code'))) return failed;
      const { mailer } = this.#deps;
      await mailer.queue(r.outbox, mailer.notice(owner.email, who.lang, { key: recovery.removedMail, name: owner.name }), clock.now());
      return { ok: true };
    });
  }
}
