/**
 * The ways back into an account that are open to anyone (SPEC §2), HTTP-free:
 * - "Elfelejtett jelszó": a code to the account's address (and the app's code, when the account
 *   has the app), then a new password. It answers every username the same way: whether one
 *   exists is not something it tells.
 * - The lost phone: username, password and the app's törlőkód remove the app. Throttled like a
 *   password, with one answer for any wrong part.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from '../security/passwords.ts';
import type { Throttle } from '../security/throttle.ts';
import { normalizeRecoveryCode } from '../factors/totp/index.ts';
import { CHANGE_TTL_SECONDS, type Done, type Who, accountOf } from './account.ts';
import type { EnrollmentService } from './enrollment.ts';

export interface RecoveryDeps {
  uow: UnitOfWork<Repos>;
  enrollments: EnrollmentService;
  passwords: PasswordHasher;
  throttle: Throttle;
  codes: EmailedCodes;
  mailer: Mailer;
  clock: Clock;
  random: Random;
}

const USERNAME_MAX_LENGTH = 200;

export class RecoveryService {
  readonly #deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /**
   * A forgotten password, step one. For an account with an address, a code goes to it; the
   * answer — a change id for the next page — is the same for every username, existing or not.
   */
  async beginReset(username: unknown, who: Who): Promise<{ changeId: string }> {
    const { uow, random, clock } = this.#deps;
    const changeId = random.uuid();
    if (typeof username !== 'string' || !username.trim() || username.length > USERNAME_MAX_LENGTH) return { changeId };
    // A disabled account gets no code either: it answers like a name that matches no account.
    const account = await uow.repos.accounts.findActiveByUsername(username);
    if (!account) return { changeId };
    const kinds = await uow.repos.factors.kinds(account.id);
    await uow.transaction(async (r) => {
      const now = clock.now();
      const proofs = kinds.includes('totp') ? 'email app' : 'email';
      await r.pendingChanges.create({ id: changeId, accountId: account.id, kind: 'reset', value: proofs, now, expiresAt: new Date(now.getTime() + Math.max(CHANGE_TTL_SECONDS, this.#deps.codes.rules.ttlSeconds) * 1000) });
      // A refused code (the hourly cap) is not said here either: the next page says "no code".
      await this.#deps.codes.send(r, 'reset', changeId, account, who.lang, { service: null, browser: who.browser });
    });
    return { changeId };
  }

  /** The munkamenet-azonosító a new password's page shows, as its code mail does (the same for any username). */
  resetTag(changeId: string): string {
    return this.#deps.codes.flowTag(changeId);
  }

  /**
   * The lost phone: username + password + törlőkód remove the authenticator app. Counted as a
   * password guess; unknown user, wrong password, wrong or missing törlőkód: one answer.
   */
  async removeAppWithRecoveryCode(username: unknown, password: unknown, recoveryCode: unknown, who: Who): Promise<Done> {
    const { uow, throttle, passwords, clock } = this.#deps;
    const name = typeof username === 'string' && username.length <= USERNAME_MAX_LENGTH ? username.trim() : '';
    const typed = typeof password === 'string' && password.length <= PASSWORD_MAX_LENGTH ? password : '';
    const code = typeof recoveryCode === 'string' && recoveryCode.length <= 64 ? normalizeRecoveryCode(recoveryCode) : '';
    const refused: Done = { ok: false, refusal: 'wrong_credentials', notice: { key: 'recovery.failed', error: true } };
    if (!name || !typed || !code) return { ok: false, refusal: 'invalid_input', notice: { key: 'recovery.missing', error: true } };

    const attempt = await throttle.password(uow.repos.throttle, name, who.ip);
    const account = attempt ? await uow.repos.accounts.recoveryCredentials(name) : undefined;
    const passwordOk = await passwords.verify(account?.password_hash, typed);
    // The second hash check runs either way: the answer takes the same time for every failure.
    const codeOk = await passwords.verify((passwordOk.ok && account?.recovery_hash) || undefined, code);
    if (!attempt || !account || !passwordOk.ok || !codeOk.ok) {
      // The account's own list of events says which part was wrong (a right password is worth knowing of).
      const failed: Record<string, string> = attempt && account && passwordOk.ok ? { failed: 'recovery_code' } : {};
      await uow.repos.audit.record({ type: 'signin.password_failed', accountId: (attempt && account?.id) || null, ip: who.ip, detail: { purpose: 'recovery', locked: !attempt, ...failed } }, clock.now());
      return refused;
    }
    return uow.transaction(async (r) => {
      await throttle.succeeded(r.throttle, attempt);
      const owner = await accountOf(r, account.id);
      if (!owner || !(await this.#deps.enrollments.remove(r, owner, 'totp', who.lang, 'recovery_code'))) return refused;
      const { mailer } = this.#deps;
      await mailer.queue(r.outbox, mailer.notice(owner.email, who.lang, { key: 'mail.app_removed', name: owner.name }), clock.now());
      return { ok: true };
    });
  }
}
