/**
 * The citizen's own account (SPEC §2, the portal's rules), HTTP-free: what the account has and
 * did, setting factors up and removing them, a new password, a new email address, signing out
 * everywhere. Every change asks for the password again (counted like any password guess), and
 * every change mails the citizen (never a code or a secret it need not).
 */
import type { Clock, Random } from '../clock.ts';
import type { AuditEventType } from '../db/repositories/audit.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorAccount, FactorRegistry, FactorView, FormFields, Notice } from '../factors/factor.ts';
import { parseCode } from '../factors/factor.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from '../security/passwords.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import { EmailChangeService } from './email-change.ts';
import type { EnrollmentAnswered, EnrollmentBegun, EnrollmentService } from './enrollment.ts';
import type { Done, Refusal, Who } from './outcomes.ts';
import type { PortalSession } from './portal-sessions.ts';

/** How long a begun change (a new address, a new password) waits for its proof (longer if its emailed code lives longer). */
export const CHANGE_TTL_SECONDS = 10 * 60;
export const PASSWORD_MIN_LENGTH = 8;

// The portal's callers still find these here; they live with the core's other outcome types.
export type { Done, Who };

export interface AccountDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  enrollments: EnrollmentService;
  passwords: PasswordHasher;
  throttle: Throttle;
  codes: EmailedCodes;
  mailer: Mailer;
  clients: { find(clientId: string): Promise<{ name: string | null } | undefined> };
  clock: Clock;
  random: Random;
}

/** The security events a citizen sees in the list of what happened to the account. */
const SHOWN_EVENTS: AuditEventType[] = [
  'signin.succeeded',
  'signin.password_failed',
  'signin.factor_failed',
  'signin.locked',
  'factor.enrolled',
  'factor.removed',
  'password.changed',
  'password.reset',
  'email.changed',
  'sessions.ended',
];

/** Which proof a new password needs, besides the current password (or a reset's code). */
export type PasswordProof = 'app' | 'email' | 'none';

const refused = (refusal: Refusal | 'expired', key: string, vars?: Record<string, string | number>): { ok: false; refusal: Refusal | 'expired'; notice: Notice } => ({
  ok: false,
  refusal,
  notice: { key, error: true, ...(vars && { vars }) },
});
/** One answer for every failed forgotten-password step, whatever the username was. */
const RESET_REFUSED = refused('wrong_answer', 'account.reset_failed');
const WRONG_PASSWORD = { ok: false, refusal: 'wrong_credentials', notice: { key: 'account.wrong_password', error: true } } as const;

export class AccountService {
  readonly #deps: AccountDeps;
  /** A new email address: a second factor first, then a code to the new address (email-change.ts). */
  readonly emailChange: EmailChangeService;

  constructor(deps: AccountDeps) {
    this.#deps = deps;
    this.emailChange = new EmailChangeService(deps, {
      passwordAgain: (session, password, who) => this.#passwordAgain(session, password, who),
      pending: (r, accountId, kind, value) => this.#pending(r, accountId, kind, value),
      notify: (r, account, lang, key, vars) => this.#notify(r, account, lang, key, vars),
    });
  }

  /** What the account has: its factors, with when they were set up and last used. */
  async overview(session: PortalSession) {
    const rows = await this.#deps.uow.repos.factors.list(session.account.id);
    const factors = rows.flatMap((row) => {
      const factor = this.#deps.factors.get(row.kind);
      return factor ? [{ id: factor.id, labelKey: factor.labelKey, createdAt: row.created_at, lastUsedAt: row.last_used_at }] : [];
    });
    return { account: session.account, factors };
  }

  /** Recent sign-ins and security events: when, where (the RP), how, from which browser and address. */
  async events(session: PortalSession) {
    const events = await this.#deps.uow.repos.audit.list({ accountId: session.account.id, types: SHOWN_EVENTS, limit: 30 });
    const names = new Map<string, string>();
    for (const id of new Set(events.map((e) => e.client_id).filter((c): c is string => c !== null))) {
      names.set(id, (await this.#deps.clients.find(id))?.name ?? id);
    }
    return events.map((e) => ({
      at: e.at,
      // A wrong törlőkód is no wrong password, though it is counted like one.
      type: e.type === 'signin.password_failed' && e.detail['failed'] === 'recovery_code' ? 'recovery.code_failed' : e.type,
      client: e.client_id ? (names.get(e.client_id) ?? e.client_id) : null,
      method: typeof e.detail['method'] === 'string' ? e.detail['method'] : typeof e.detail['factor'] === 'string' ? e.detail['factor'] : null,
      browser: typeof e.detail['browser'] === 'string' ? e.detail['browser'] : null,
      ip: e.ip,
    }));
  }

  // ---- factors

  /** "Ügyfélkapu+ igénylés": the password again, then the factor's setup begins. */
  async beginSetUp(session: PortalSession, factorId: string, password: string, who: Who): Promise<EnrollmentBegun> {
    if (!(await this.#passwordAgain(session, password, who))) return WRONG_PASSWORD;
    return this.#deps.enrollments.begin(session.account.id, factorId, who.lang, { service: null, browser: who.browser });
  }

  /** The setup page of a begun setup (a QR code, the mailed code's tag); undefined when over. */
  setUpPage(session: PortalSession, enrollmentId: string, lang: Lang): Promise<{ factor: { id: string; labelKey: string }; view: FactorView; canResend: boolean } | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const shown = await this.#deps.enrollments.view(r, session.account, enrollmentId, lang);
      return shown && { factor: { id: shown.factor.id, labelKey: shown.factor.labelKey }, view: shown.view, canResend: shown.factor.enroll.resend !== undefined };
    });
  }

  resendSetUp(session: PortalSession, enrollmentId: string, who: Who): Promise<Notice | undefined> {
    return this.#deps.uow.transaction((r) => this.#deps.enrollments.resend(r, session.account, enrollmentId, who.lang, { service: null, browser: who.browser }));
  }

  confirmSetUp(session: PortalSession, enrollmentId: string, form: FormFields, who: Who): Promise<EnrollmentAnswered> {
    return this.#deps.enrollments.confirm(session.account.id, enrollmentId, form, who);
  }

  /** Removes a factor, after the password again. An account keeps at least one second factor. */
  async removeFactor(session: PortalSession, factorId: string, password: string, who: Who): Promise<Done> {
    const { account } = session;
    if (!account.factorKinds.includes(factorId)) return refused('invalid_input', 'error.bad_request');
    if (account.factorKinds.length === 1) return refused('invalid_input', 'account.last_factor');
    if (!(await this.#passwordAgain(session, password, who))) return WRONG_PASSWORD;
    return this.#deps.uow.transaction(async (r) => {
      if (!(await this.#deps.enrollments.remove(r, account, factorId, who.lang, 'citizen'))) return refused('invalid_input', 'error.bad_request');
      await this.#notify(r, account, who.lang, 'mail.factor_removed', { factor: this.#factorName(factorId, who.lang) });
      return { ok: true };
    });
  }

  // ---- the DÁP app's phones

  async devices(session: PortalSession) {
    return this.#deps.uow.repos.dap.devices(session.account.id);
  }

  /**
   * Removes one phone, after the password again; what it approved and no browser collected
   * yet stops at once. The last phone of an account that has nothing else stays (as the last
   * factor does).
   */
  async removeDevice(session: PortalSession, deviceId: string, password: string, who: Who): Promise<Done> {
    const { account } = session;
    const devices = await this.#deps.uow.repos.dap.devices(account.id);
    const device = devices.find((d) => d.id === deviceId);
    if (!device) return refused('invalid_input', 'error.bad_request');
    if (devices.length === 1 && account.factorKinds.length === 1) return refused('invalid_input', 'account.last_factor');
    if (!(await this.#passwordAgain(session, password, who))) return WRONG_PASSWORD;
    return this.#deps.uow.transaction(async (r) => {
      if ((await r.dap.removeDevices(account.id, deviceId)) === 0) return refused('invalid_input', 'error.bad_request');
      const now = this.#deps.clock.now();
      await r.audit.record({ type: 'factor.removed', accountId: account.id, ip: who.ip, detail: { factor: 'dap', device: device.name, by: 'citizen' } }, now);
      await this.#notify(r, account, who.lang, 'mail.dap_removed', { device: device.name });
      return { ok: true };
    });
  }

  // ---- password

  /**
   * A new password, step one: the current password, and the proof the second step will ask for:
   * the app's code when the account has the app, else an emailed code, else nothing more.
   */
  async beginPasswordChange(session: PortalSession, current: string, who: Who): Promise<Done<{ changeId: string; proof: PasswordProof }>> {
    if (!(await this.#passwordAgain(session, current, who))) return WRONG_PASSWORD;
    const { account } = session;
    const proof: PasswordProof = account.factorKinds.includes('totp') ? 'app' : account.factorKinds.includes('email') ? 'email' : 'none';
    return this.#deps.uow.transaction(async (r) => {
      const changeId = await this.#pending(r, account.id, 'reset', proof);
      if (proof === 'email') {
        const sent = await this.#deps.codes.send(r, 'reset', changeId, account, who.lang, { service: null, browser: who.browser });
        if (sent.error) return { ok: false, refusal: 'rate_limited', notice: sent };
      }
      return { ok: true, changeId, proof };
    });
  }

  /** What the second step of a password change (or reset) asks for; undefined when it is over. */
  async passwordChange(changeId: string): Promise<{ proof: PasswordProof[] } | undefined> {
    const open = await this.#deps.uow.repos.pendingChanges.peekOpen(changeId, 'reset', this.#deps.clock.now());
    return open && { proof: proofsOf(open.value) };
  }

  /**
   * A new password, step two (for a change and a forgotten password alike): the proofs the
   * change asked for, and the new password twice. Every session of the account ends but the
   * one that asked (none for a reset); tokens given to RPs end too.
   */
  async completePasswordChange(changeId: string, form: FormFields, who: Who, keepSession?: PortalSession): Promise<Done> {
    const { uow, clock, passwords, throttle } = this.#deps;
    const password = typeof form['password'] === 'string' && form['password'].length <= PASSWORD_MAX_LENGTH ? form['password'] : '';
    if (password.length < PASSWORD_MIN_LENGTH) return refused('invalid_input', 'account.password_short', { min: PASSWORD_MIN_LENGTH });
    if (form['password2'] !== password) return refused('invalid_input', 'account.password_mismatch');
    const emailCode = parseCode(form);
    const appCode = parseCode({ code: form['app_code'] });
    // Every reset needs the emailed code: its shape is checked the same way for every username.
    if (!keepSession && !emailCode) return refused('invalid_input', 'code.format');
    const pending = await uow.repos.pendingChanges.peekOpen(changeId, 'reset', clock.now());
    // A forged or finished change gets the same answer as a wrong code: nothing to learn.
    if (!pending || (keepSession && pending.account_id !== keepSession.account.id)) return keepSession ? refused('wrong_answer', 'code.none') : RESET_REFUSED;
    const proofs = proofsOf(pending.value);
    if ((proofs.includes('email') && !emailCode) || (proofs.includes('app') && !appCode)) return keepSession ? refused('invalid_input', 'code.format') : RESET_REFUSED;
    const attempt = proofs.length > 0 ? await throttle.factor(uow.repos.throttle, pending.account_id, who.ip) : null;
    if (proofs.length > 0 && !attempt) return keepSession ? refused('locked', 'throttle.locked') : RESET_REFUSED;
    const hash = await passwords.hash(password);
    return uow.transaction(async (r) => {
      const now = clock.now();
      const open = await r.pendingChanges.findOpen(changeId, 'reset', now);
      const account = open && (await accountOf(r, open.account_id));
      if (!open || !account) return keepSession ? refused('wrong_answer', 'code.none') : RESET_REFUSED;
      for (const proof of proofs) {
        const checked =
          proof === 'email'
            ? await this.#deps.codes.check(r, 'reset', changeId, account.id, emailCode!.code)
            : await this.#deps.factors.get('totp')!.verify({ flowId: changeId, account, lang: who.lang, repos: r }, appCode!);
        if (!checked.ok) {
          await r.audit.record({ type: 'signin.factor_failed', accountId: account.id, ip: who.ip, detail: { factor: proof === 'app' ? 'totp' : 'email', purpose: 'password' } }, now);
          // A forgotten password's page says no more than "wrong": what it would say for a
          // made-up username too.
          return keepSession ? { ok: false, refusal: 'wrong_answer', notice: { ...checked.notice, error: true } } : RESET_REFUSED;
        }
      }
      if (attempt) await throttle.succeeded(r.throttle, attempt);
      // A new password is a way back in after a hard lock; counters before the account's row (no deadlock).
      await throttle.unlock(r.throttle, account.username);
      await r.pendingChanges.done(changeId, now);
      await r.accounts.updatePasswordHash(account.id, hash, now);
      await this.#endSessions(r, account.id, keepSession?.id);
      const type = keepSession ? 'password.changed' : 'password.reset';
      await r.audit.record({ type, accountId: account.id, ip: who.ip, detail: { ...(who.browser && { browser: who.browser }) } }, now);
      await this.#notify(r, account, who.lang, keepSession ? 'mail.password_changed' : 'mail.password_reset');
      return { ok: true };
    });
  }

  /** Signs the account out of every portal session, every kapu sign-in and every RP token. */
  async signOutEverywhere(session: PortalSession, who: Who): Promise<void> {
    await this.#deps.uow.transaction(async (r) => {
      await this.#endSessions(r, session.account.id);
      await r.audit.record({ type: 'sessions.ended', accountId: session.account.id, ip: who.ip }, this.#deps.clock.now());
    });
  }

  // ---------------------------------------------------------------------------------------

  /** The password typed again before a change: counted like any guess, audited when wrong. */
  async #passwordAgain(session: PortalSession, password: string, who: Who): Promise<boolean> {
    const { uow, throttle, passwords, clock } = this.#deps;
    if (!password || password.length > PASSWORD_MAX_LENGTH) return false;
    const attempt = await throttle.password(uow.repos.throttle, session.account.username, who.ip);
    const check = await passwords.verify(attempt ? await uow.repos.accounts.passwordHashOf(session.account.id) : undefined, password);
    if (!attempt || !check.ok) {
      await uow.repos.audit.record({ type: 'signin.password_failed', accountId: session.account.id, ip: who.ip, detail: { purpose: 'portal', locked: !attempt } }, clock.now());
      return false;
    }
    await throttle.succeeded(uow.repos.throttle, attempt);
    return true;
  }

  async #pending(r: Repos, accountId: string, kind: 'email' | 'reset', value: string | null): Promise<string> {
    const id = this.#deps.random.uuid();
    const now = this.#deps.clock.now();
    await r.pendingChanges.create({ id, accountId, kind, value, now, expiresAt: new Date(now.getTime() + Math.max(CHANGE_TTL_SECONDS, this.#deps.codes.rules.ttlSeconds) * 1000) });
    return id;
  }

  /** Ends the account's portal sessions (but `except`) and its kapu sessions and RP tokens. */
  async #endSessions(r: Repos, accountId: string, except?: string): Promise<void> {
    await r.portalSessions.removeForAccount(accountId, except);
    await r.payloads.revokeByAccountId(accountId);
  }

  async #notify(r: Repos, account: FactorAccount, lang: Lang, key: string, vars?: Record<string, string>): Promise<void> {
    const { mailer, clock } = this.#deps;
    await mailer.queue(r.outbox, mailer.notice(account.email, lang, { key, name: account.name, ...(vars && { vars }) }), clock.now());
  }

  #factorName(factorId: string, lang: Lang): string {
    return this.#deps.mailer.translate(lang, this.#deps.factors.get(factorId)?.labelKey ?? factorId);
  }
}

/** The proofs a password change asked for, as stored with it ('app', 'email', both or none). */
function proofsOf(value: string | null): PasswordProof[] {
  return (value ?? '').split(' ').filter((p): p is PasswordProof => p === 'app' || p === 'email');
}

export async function accountOf(r: Repos, accountId: string): Promise<FactorAccount | undefined> {
  const account = await r.accounts.findById(accountId);
  return account && { id: account.id, username: account.username, name: account.name, email: account.email };
}
