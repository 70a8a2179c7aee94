/**
 * Setting up a factor (SPEC §2: "Ügyfélkapu+ igénylés"), HTTP-free, for the account portal and
 * for the inline upgrade of a password-only account: begin → the person proves it → confirm.
 * An enrollment lives ten minutes, belongs to one account, and is confirmed at most once; what
 * the factor asked to keep meanwhile (a new TOTP secret) is sealed at rest, bound to it.
 * Guesses at confirmation count toward the account's second-factor throttle.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorContext, FactorRegistry, FormFields, Notice } from '../factors/factor.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import type { Refusal } from './outcomes.ts';

/** How long a begun enrollment waits for its proof (the emailed code lives as long). */
export const ENROLLMENT_TTL_SECONDS = 10 * 60;

export interface EnrollmentDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  throttle: Throttle;
  box: SecretBox;
  clock: Clock;
  random: Random;
}

export type EnrollmentBegun =
  | { ok: true; enrollmentId: string; show: Record<string, string> | null; notice: Notice | null }
  | { ok: false; refusal: Refusal | 'unknown'; notice: Notice };

export type EnrollmentConfirmed = { ok: true } | { ok: false; refusal: Refusal | 'expired'; notice: Notice };

export class EnrollmentService {
  readonly #deps: EnrollmentDeps;

  constructor(deps: EnrollmentDeps) {
    this.#deps = deps;
  }

  /** Starts setting up `factorId` for the account (an emailed code is sent, a secret made). */
  async begin(accountId: string, factorId: string, lang: Lang): Promise<EnrollmentBegun> {
    const factor = this.#deps.factors.get(factorId);
    if (!factor) return { ok: false, refusal: 'unknown', notice: { key: 'error.bad_request', error: true } };
    const { uow, box, clock, random } = this.#deps;
    return uow.transaction(async (r) => {
      const ctx = await this.#context(r, accountId, random.uuid(), lang);
      if (!ctx) return { ok: false, refusal: 'unknown', notice: { key: 'error.bad_request', error: true } };
      const start = await factor.enroll.begin(ctx);
      if (start.notice?.error) return { ok: false, refusal: 'rate_limited', notice: start.notice };
      const now = clock.now();
      await r.enrollments.create({
        id: ctx.flowId,
        accountId,
        factor: factor.id,
        secretSealed: start.keep === undefined ? null : box.seal(start.keep, AAD.enrollmentSecret(ctx.flowId)),
        now,
        expiresAt: new Date(now.getTime() + ENROLLMENT_TTL_SECONDS * 1000),
      });
      return { ok: true, enrollmentId: ctx.flowId, show: start.show ?? null, notice: start.notice ?? null };
    });
  }

  /** Confirms an enrollment with the person's proof (the emailed code, the app's first code). */
  async confirm(accountId: string, enrollmentId: string, form: FormFields, requester: { ip: string; lang: Lang }): Promise<EnrollmentConfirmed> {
    const { uow, throttle, box, clock } = this.#deps;
    const pending = await uow.repos.enrollments.findOpen(enrollmentId, accountId, clock.now());
    const factor = this.#deps.factors.get(pending?.factor);
    if (!pending || !factor) return { ok: false, refusal: 'expired', notice: { key: 'enroll.expired', error: true } };
    const input = factor.parse(form);
    if (input === undefined) return { ok: false, refusal: 'invalid_input', notice: { key: 'code.format', error: true } };
    const attempt = await throttle.factor(uow.repos.throttle, accountId, requester.ip);
    if (!attempt) return { ok: false, refusal: 'locked', notice: { key: 'throttle.locked', error: true } };
    return uow.transaction(async (r) => {
      const now = clock.now();
      // Locked for the rest of the transaction: of two confirmations racing, one confirms.
      const open = await r.enrollments.findOpen(enrollmentId, accountId, now);
      const ctx = open && (await this.#context(r, accountId, enrollmentId, requester.lang));
      if (!open || !ctx) {
        await r.throttle.settle([], attempt.counted);
        return { ok: false, refusal: 'expired', notice: { key: 'enroll.expired', error: true } };
      }
      const kept = open.secret_sealed ? box.openText(open.secret_sealed, AAD.enrollmentSecret(enrollmentId)) : null;
      const result = await factor.enroll.confirm({ ...ctx, kept }, input);
      if (!result.ok) {
        await r.audit.record({ type: 'signin.factor_failed', accountId, ip: requester.ip, detail: { factor: factor.id, purpose: 'enroll', reason: result.notice.key } }, now);
        return { ok: false, refusal: 'wrong_answer', notice: { ...result.notice, error: true } };
      }
      await r.enrollments.confirm(enrollmentId, now);
      await throttle.succeeded(r.throttle, attempt);
      await r.audit.record({ type: 'factor.enrolled', accountId, ip: requester.ip, detail: { factor: factor.id, by: 'citizen' } }, now);
      return { ok: true };
    });
  }

  /** Removes one of the account's factors. */
  async remove(accountId: string, factorId: string, lang: Lang): Promise<boolean> {
    const factor = this.#deps.factors.get(factorId);
    if (!factor) return false;
    return this.#deps.uow.transaction(async (r) => {
      const ctx = await this.#context(r, accountId, accountId, lang);
      if (!ctx || !(await factor.remove(ctx))) return false;
      await r.audit.record({ type: 'factor.removed', accountId, detail: { factor: factor.id } }, this.#deps.clock.now());
      return true;
    });
  }

  async #context(repos: Repos, accountId: string, flowId: string, lang: Lang): Promise<FactorContext | undefined> {
    const account = await repos.accounts.findById(accountId);
    return account && { flowId, account: { id: account.id, username: account.username, name: account.name, email: account.email }, lang, repos };
  }
}
