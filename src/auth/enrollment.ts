/**
 * Setting up a factor (SPEC §2: "Ügyfélkapu+ igénylés"), HTTP-free, for the account portal and
 * for the inline upgrade of a password-only account during a sign-in: begin → the person
 * proves it → confirm. An enrollment lives ten minutes, belongs to one account, and is
 * confirmed at most once; what the factor asked to keep meanwhile (a new TOTP secret) is
 * sealed at rest, bound to it. Guesses at confirmation count toward the account's
 * second-factor throttle.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos, TxRepos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { EnrollContext, FactorAccount, FactorRegistry, FactorView, FormFields, MailRequest, Notice, With } from '../factors/factor.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';
import type { Attempt, Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import { type Refused, type Result, refuse } from './result.ts';
import type { Who } from './who.ts';

/** How long a begun enrollment waits for its proof (at least; an emailed code that lives longer keeps it open as long). */
export const ENROLLMENT_TTL_SECONDS = 10 * 60;

export interface EnrollmentDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  throttle: Throttle;
  box: SecretBox;
  clock: Clock;
  random: Random;
  /** How long a begun enrollment stays open; default ENROLLMENT_TTL_SECONDS. */
  ttlSeconds?: number;
}

export type EnrollmentBegun = Result<{ enrollmentId: string; notice: Notice | null }>;

/** `confirm`'s answer: refused `done` when confirmed already (the form sent again by reloading the page that answered it). */
export type EnrollmentConfirmed = Result<{ factor: With<'enroll'>; shownOnce: Record<string, string> | null; amr?: readonly string[] }>;

const UNKNOWN = refuse('unknown', 'error.bad_request');
const EXPIRED = refuse('expired', 'enroll.expired');
const DONE: Refused = { ok: false, refusal: 'done', notice: { key: 'enroll.done_before' } };

export class EnrollmentService {
  readonly #deps: EnrollmentDeps;

  constructor(deps: EnrollmentDeps) {
    this.#deps = deps;
  }

  /** Starts setting up `factorId` for the account (an emailed code is sent, a secret made); `request`: who asks, for the code mail. */
  async begin(accountId: string, factorId: string, lang: Lang, request?: MailRequest): Promise<EnrollmentBegun> {
    return this.#deps.uow.transaction(async (r) => {
      const account = await accountOf(r, accountId);
      return account ? this.beginWith(r, account, factorId, lang, request) : UNKNOWN;
    });
  }

  /** `begin`, inside the caller's unit of work (a sign-in that sets a factor up inline). */
  async beginWith(r: Repos, account: FactorAccount, factorId: string, lang: Lang, request?: MailRequest): Promise<EnrollmentBegun> {
    const factor = this.#deps.factors.with(factorId, 'enroll');
    if (!factor) return UNKNOWN;
    const { box, clock, random } = this.#deps;
    const enrollmentId = random.uuid();
    const start = await factor.enroll.begin({ flowId: enrollmentId, account, lang, repos: r, ...(request && { request }) });
    if (start.notice?.error) return { ok: false, refusal: 'rate_limited', notice: start.notice };
    const now = clock.now();
    await r.enrollments.create({
      id: enrollmentId,
      accountId: account.id,
      factor: factor.id,
      secretSealed: start.keep === undefined ? null : box.seal(start.keep, AAD.enrollmentSecret(enrollmentId)),
      now,
      expiresAt: new Date(now.getTime() + (this.#deps.ttlSeconds ?? ENROLLMENT_TTL_SECONDS) * 1000),
    });
    return { ok: true, enrollmentId, notice: start.notice ?? null };
  }

  /** What the setup page shows (a QR code, the tag of the mailed code); undefined when over. A look: it locks nothing. */
  async view(r: Repos, account: FactorAccount, enrollmentId: string, lang: Lang): Promise<{ factor: With<'enroll'>; view: FactorView } | undefined> {
    const open = this.#opened(r, account, enrollmentId, lang, await r.enrollments.peekOpen(enrollmentId, account.id, this.#deps.clock.now()));
    return open && { factor: open.factor, view: await open.factor.enroll.view(open.ctx) };
  }

  /** A fresh proof (a new code mail), when the factor has one to give. */
  async resend(r: TxRepos, account: FactorAccount, enrollmentId: string, lang: Lang, request?: MailRequest): Promise<Notice | undefined> {
    const open = await this.#open(r, account, enrollmentId, lang);
    return open?.factor.enroll.resend?.({ ...open.ctx, ...(request && { request }) });
  }

  /** Confirms an enrollment with the person's proof (the emailed code, the app's first code). */
  async confirm(accountId: string, enrollmentId: string, form: FormFields, requester: Who): Promise<EnrollmentConfirmed> {
    const { uow, throttle, clock } = this.#deps;
    const pending = await uow.repos.enrollments.peekOpen(enrollmentId, accountId, clock.now());
    const factor = this.#deps.factors.with(pending?.factor, 'enroll');
    if (!pending || !factor) return (await uow.repos.enrollments.isConfirmed(enrollmentId, accountId)) ? DONE : EXPIRED;
    if (factor.parse(form) === undefined) return refuse('invalid_input', 'code.format');
    const attempt = await throttle.factor(uow.repos.throttle, accountId, requester.ip);
    if (!attempt) return refuse('locked', 'throttle.locked');
    return uow.transaction(async (r) => {
      const account = await accountOf(r, accountId);
      return account ? this.confirmWith(r, account, enrollmentId, form, attempt, requester) : EXPIRED;
    });
  }

  /**
   * `confirm`, inside the caller's unit of work, with the guess already counted (`attempt`):
   * the enrollment row stays locked to the end of that unit of work, so of two confirmations
   * racing, one confirms.
   */
  async confirmWith(r: TxRepos, account: FactorAccount, enrollmentId: string, form: FormFields, attempt: Attempt, requester: Who): Promise<EnrollmentConfirmed> {
    const { throttle, clock } = this.#deps;
    const open = await this.#open(r, account, enrollmentId, requester.lang);
    const input = open?.factor.parse(form);
    if (!open || input === undefined) {
      await r.throttle.settle([], attempt.counted);
      return open ? refuse('invalid_input', 'code.format') : EXPIRED;
    }
    const { factor, ctx } = open;
    const now = clock.now();
    const result = await factor.enroll.confirm(ctx, input);
    if (!result.ok) {
      await r.audit.record({ type: 'signin.factor_failed', accountId: account.id, ip: requester.ip, detail: { factor: factor.id, purpose: 'enroll', reason: result.notice.key, ...(result.refusal && { refusal: result.refusal }) } }, now);
      return { ok: false, refusal: 'wrong_answer', notice: { ...result.notice, error: true } };
    }
    await r.enrollments.confirm(enrollmentId, now);
    await throttle.succeeded(r.throttle, attempt);
    await r.audit.record({ type: 'factor.enrolled', accountId: account.id, ip: requester.ip, detail: { factor: factor.id, by: 'citizen' } }, now);
    return { ok: true, factor, shownOnce: result.shownOnce ?? null, ...(result.amr && { amr: result.amr }) };
  }

  /**
   * Removes one of the account's factors, with all it owns (the factor's own `remove`), and ends
   * its setups still open: the one way every removal goes (the portal, the lost phone, the CLI).
   */
  async remove(r: Repos, account: FactorAccount, factorId: string, lang: Lang, how: string): Promise<boolean> {
    const factor = this.#deps.factors.with(factorId, 'removal');
    if (!factor || !(await factor.removal.remove({ flowId: account.id, account, lang, repos: r }))) return false;
    const now = this.#deps.clock.now();
    await r.enrollments.closeOpen(account.id, factor.id, now);
    await r.audit.record({ type: 'factor.removed', accountId: account.id, detail: { factor: factor.id, by: how } }, now);
    return true;
  }

  /** The account's open enrollment `id`, locked, with its factor and what it keeps. */
  async #open(r: TxRepos, account: FactorAccount, enrollmentId: string, lang: Lang): Promise<{ factor: With<'enroll'>; ctx: EnrollContext } | undefined> {
    return this.#opened(r, account, enrollmentId, lang, await r.enrollments.findOpen(enrollmentId, account.id, this.#deps.clock.now()));
  }

  #opened(r: Repos, account: FactorAccount, enrollmentId: string, lang: Lang, open: { factor: string; secret_sealed: string | null } | undefined): { factor: With<'enroll'>; ctx: EnrollContext } | undefined {
    const factor = this.#deps.factors.with(open?.factor, 'enroll');
    if (!open || !factor) return undefined;
    const kept = open.secret_sealed ? this.#deps.box.openText(open.secret_sealed, AAD.enrollmentSecret(enrollmentId)) : null;
    return { factor, ctx: { flowId: enrollmentId, account, lang, repos: r, kept } };
  }
}

async function accountOf(r: Repos, accountId: string): Promise<FactorAccount | undefined> {
  const account = await r.accounts.findById(accountId);
  return account && { id: account.id, username: account.username, name: account.name, email: account.email };
}
