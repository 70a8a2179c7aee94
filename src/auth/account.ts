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
import type { Device, FactorAccount, FactorRegistry, FactorView, FormFields, Notice } from '../factors/factor.ts';
import { PasswordChangeService } from './password-change.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from '../security/passwords.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import { EmailChangeService } from './email-change.ts';
import type { EnrollmentConfirmed, EnrollmentService } from './enrollment.ts';
import { SetUpService } from './setup-proof.ts';
import { type Result, refuse } from './result.ts';
import type { PortalSession } from './portal-sessions.ts';
import type { Who } from './who.ts';

/** How long a begun change (a new address, a new password) waits for its proof (longer if its emailed code lives longer). */
export const CHANGE_TTL_SECONDS = 10 * 60;
export { PASSWORD_MIN_LENGTH } from './password-change.ts';

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

const refused = refuse;
const WRONG_PASSWORD = refuse('wrong_credentials', 'account.wrong_password');

export class AccountService {
  readonly #deps: AccountDeps;
  /** A new email address: a second factor first, then a code to the new address (email-change.ts). */
  readonly emailChange: EmailChangeService;
  /** "Ügyfélkapu+ igénylés": the password again, a factor the account has, then the new one's setup (setup-proof.ts). */
  readonly setUp: SetUpService;
  /** A new password: the current one, any one of the account's proofs, the new one twice (password-change.ts). */
  readonly newPassword: PasswordChangeService;

  constructor(deps: AccountDeps) {
    this.#deps = deps;
    const passwordAgain = (session: PortalSession, password: string, who: Who) => this.#passwordAgain(session, password, who);
    const pending = (r: Repos, accountId: string, kind: 'email' | 'setup', value: string) => this.#pending(r, accountId, kind, value);
    this.emailChange = new EmailChangeService(deps, { passwordAgain, pending, notify: (r, account, lang, key, vars) => this.#notify(r, account, lang, key, vars) });
    this.setUp = new SetUpService(deps, { passwordAgain, pending });
    this.newPassword = new PasswordChangeService(deps, {
      passwordAgain,
      pending: (r, accountId, kind, value) => this.#pending(r, accountId, kind, value),
      endSessions: (r, accountId, except) => this.#endSessions(r, accountId, except),
      notify: (r, account, lang, key) => this.#notify(r, account, lang, key),
      accountOf,
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

  confirmSetUp(session: PortalSession, enrollmentId: string, form: FormFields, who: Who): Promise<EnrollmentConfirmed> {
    return this.#deps.enrollments.confirm(session.account.id, enrollmentId, form, who);
  }

  /** Removes a factor, after the password again. An account keeps at least one second factor. */
  async removeFactor(session: PortalSession, factorId: string, password: string, who: Who): Promise<Result> {
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

  // ---- factors an account holds several of (phones): their devices

  /** The devices of the account's factor `factorId`, when it is one an account holds several of. */
  async devices(session: PortalSession, factorId: string): Promise<Device[] | undefined> {
    const devices = this.#deps.factors.get(factorId)?.removal?.devices;
    return devices?.list(this.#deps.uow.repos, session.account.id);
  }

  /**
   * Removes one device, after the password again; what it approved and no browser collected
   * yet stops at once. The last device of an account that has nothing else stays (as the last
   * factor does).
   */
  async removeDevice(session: PortalSession, factorId: string, deviceId: string, password: string, who: Who): Promise<Result> {
    const { account } = session;
    const factor = this.#deps.factors.get(factorId);
    const devices = factor?.removal?.devices;
    const listed = devices && (await devices.list(this.#deps.uow.repos, account.id));
    if (!factor || !devices || !listed?.some((d) => d.id === deviceId)) return refused('invalid_input', 'error.bad_request');
    if (listed.length === 1 && account.factorKinds.length === 1) return refused('invalid_input', 'account.last_factor');
    if (!(await this.#passwordAgain(session, password, who))) return WRONG_PASSWORD;
    return this.#deps.uow.transaction(async (r) => {
      const removed = await devices.removeOne({ flowId: account.id, account, lang: who.lang, repos: r }, deviceId);
      if (!removed) return refused('invalid_input', 'error.bad_request');
      const now = this.#deps.clock.now();
      await r.audit.record({ type: 'factor.removed', accountId: account.id, ip: who.ip, detail: { factor: factor.id, device: removed.name, by: 'citizen' } }, now);
      await this.#notify(r, account, who.lang, devices.removedMail, { device: removed.name });
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

  async #pending(r: Repos, accountId: string, kind: 'email' | 'reset' | 'setup', value: string | null): Promise<string> {
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

export async function accountOf(r: Repos, accountId: string): Promise<FactorAccount | undefined> {
  const account = await r.accounts.findById(accountId);
  return account && toFactorAccount(account);
}

function toFactorAccount(account: FactorAccount): FactorAccount {
  return { id: account.id, username: account.username, name: account.name, email: account.email };
}
