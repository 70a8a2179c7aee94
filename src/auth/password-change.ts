/**
 * A new password in the portal (SPEC §2), HTTP-free: the current password, then any one of the
 * proofs the account holds (the app's code, a device's key; or else the mailbox's code), and the
 * new password twice. Every session of the account ends but the one that asked; tokens given to
 * RPs end too, and a mail says so.
 */
import type { Clock } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorAccount, FactorRegistry, FormFields, With } from '../factors/factor.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from '../security/passwords.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import type { PortalSession } from './portal-sessions.ts';
import { type ProofFailed, type ProofPart, answersTo, proofParts, proveAnyOne, resetProofs } from './reset-proofs.ts';
import { type Result, refuse } from './result.ts';
import type { Who } from './who.ts';

export const PASSWORD_MIN_LENGTH = 8;

export interface PasswordChangeDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  passwords: PasswordHasher;
  throttle: Throttle;
  clock: Clock;
}

/** What the account service lends: the password typed again, a pending change, the account's sessions ended, a notice mail. */
export interface PasswordTools {
  passwordAgain(session: PortalSession, password: string, who: Who): Promise<boolean>;
  pending(r: Repos, accountId: string, kind: 'reset', value: string): Promise<string>;
  endSessions(r: Repos, accountId: string, except: string): Promise<void>;
  notify(r: Repos, account: FactorAccount, lang: Lang, key: string): Promise<void>;
  accountOf(r: Repos, accountId: string): Promise<FactorAccount | undefined>;
}

const refused = refuse;

export class PasswordChangeService {
  readonly #deps: PasswordChangeDeps;
  readonly #account: PasswordTools;

  constructor(deps: PasswordChangeDeps, account: PasswordTools) {
    this.#deps = deps;
    this.#account = account;
  }

  /**
   * Step one: the current password, and the proofs the second step will ask any one of: of the
   * account's factors that prove a new password, those its owner holds, or else the mailbox's
   * code (mailed here); none for an account that has no such factor.
   */
  async begin(session: PortalSession, current: string, who: Who): Promise<Result<{ changeId: string }>> {
    if (!(await this.#account.passwordAgain(session, current, who))) return refused('wrong_credentials', 'account.wrong_password');
    const { account } = session;
    const own = resetProofs(this.#deps.factors, account.factorKinds);
    const held = own.filter((f) => !f.proveReset.byMailbox);
    const proofs = held.length > 0 ? held : own.slice(0, 1);
    return this.#deps.uow.transaction(async (r) => {
      const changeId = await this.#account.pending(r, account.id, 'reset', proofs.map((f) => f.id).join(' '));
      for (const proof of proofs) {
        const refusal = await proof.proveReset.begin({ flowId: changeId, account, lang: who.lang, repos: r, request: { service: null, browser: who.browser } });
        if (refusal) return { ok: false, refusal: 'rate_limited', notice: refusal };
      }
      return { ok: true, changeId };
    });
  }

  /** What step two of the session's change asks for, its parts made with the page (a challenge); undefined when it is over. */
  page(session: PortalSession, changeId: string, lang: Lang): Promise<{ proofs: ProofPart[] } | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const open = await r.pendingChanges.peekOpen(changeId, 'reset', this.#deps.clock.now());
      const proofs = open?.account_id === session.account.id ? this.#proofsOf(open.value) : undefined;
      const { id, username, name, email } = session.account;
      return proofs && { proofs: await proofParts(proofs, { flowId: changeId, account: { id, username, name, email }, lang, repos: r }) };
    });
  }

  /** Step two: any one of the proofs the change asked for, and the new password twice. */
  async complete(changeId: string, form: FormFields, who: Who, session: PortalSession): Promise<Result> {
    const { uow, clock, passwords, throttle } = this.#deps;
    const password = typeof form['password'] === 'string' && form['password'].length <= PASSWORD_MAX_LENGTH ? form['password'] : '';
    if (password.length < PASSWORD_MIN_LENGTH) return refused('invalid_input', 'account.password_short', { min: PASSWORD_MIN_LENGTH });
    if (form['password2'] !== password) return refused('invalid_input', 'account.password_mismatch');
    const pending = await uow.repos.pendingChanges.peekOpen(changeId, 'reset', clock.now());
    if (!pending || pending.account_id !== session.account.id) return refused('wrong_answer', 'code.none');
    const proofs = this.#proofsOf(pending.value);
    if (!proofs) return refused('wrong_answer', 'code.none');
    // Any one of them will do; none given at all is no guess (nothing is counted).
    const answers = answersTo(proofs, form);
    if (answers.length > 0 && answers.every((a) => a.input === undefined)) return refused('invalid_input', 'account.proof_missing');
    const attempt = answers.length > 0 ? await throttle.factor(uow.repos.throttle, pending.account_id, who.ip) : null;
    if (answers.length > 0 && !attempt) return refused('locked', 'throttle.locked');
    const hash = await passwords.hash(password);
    return uow.transaction(async (r) => {
      const now = clock.now();
      const open = await r.pendingChanges.findOpen(changeId, 'reset', now);
      const account = open && (await this.#account.accountOf(r, open.account_id));
      if (!open || !account) return refused('wrong_answer', 'code.none');
      const failed: ProofFailed = (factor, refusal) =>
        r.audit.record({ type: 'signin.factor_failed', accountId: account.id, ip: who.ip, detail: { ...(factor && { factor }), purpose: 'password', ...(refusal && { refusal }) } }, now);
      const checked = answers.length > 0 ? await proveAnyOne(answers, { flowId: changeId, account, lang: who.lang, repos: r }, failed) : null;
      if (checked && !checked.ok) return { ok: false, refusal: 'wrong_answer', notice: { ...checked.notice, error: true } };
      if (attempt) await throttle.succeeded(r.throttle, attempt);
      // A new password is a way back in after a hard lock; counters before the account's row (no deadlock).
      await throttle.unlock(r.throttle, account.username);
      await r.pendingChanges.done(changeId, now);
      await r.accounts.updatePasswordHash(account.id, hash, now);
      await this.#account.endSessions(r, account.id, session.id);
      await r.audit.record({ type: 'password.changed', accountId: account.id, ip: who.ip, detail: { ...(who.browser && { browser: who.browser }) } }, now);
      await this.#account.notify(r, account, who.lang, 'mail.password_changed');
      return { ok: true };
    });
  }

  /**
   * The factors a password change asked to prove it (their ids stored with it). A proof kapu no
   * longer knows (a factor gone from the registry, a change stored in an older form) voids the
   * change rather than dropping the proof: undefined.
   */
  #proofsOf(value: string | null): Array<With<'proveReset'>> | undefined {
    const ids = (value ?? '').split(' ').filter(Boolean);
    const proofs = ids.flatMap((id) => this.#deps.factors.with(id, 'proveReset') ?? []);
    return proofs.length === ids.length ? proofs : undefined;
  }
}
