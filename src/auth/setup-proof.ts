/**
 * Setting up another factor in the portal (SPEC §2, §5), HTTP-free. A new factor is a new way
 * in: whoever has a portal session and the password must not be able to add a phone or an app
 * of their own to an account that already has a second factor. So, as a new address does, it
 * asks first for a factor the account has:
 *
 *   password again → a proof of one of the account's factors (a code from the app, or one mailed
 *   to the account's address; the citizen may switch) → the new factor's own setup begins.
 *
 * The proof is the factors' `proveChange`, bound to the setup: a pending change of kind `setup`
 * keeps which factor is being set up, which one proves it and when it did, and the enrollment
 * begins in the unit of work that marks the change done (single use, in the query). An account
 * with no factor that proves a change (password only, or the phone app only) goes on with the
 * password, as before.
 */
import type { Clock } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorContext, FactorRegistry, FactorView, FormFields, Notice, With } from '../factors/factor.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import type { EnrollmentService } from './enrollment.ts';
import type { PortalSession } from './portal-sessions.ts';
import { type Result, refuse } from './result.ts';
import type { Who } from './who.ts';

export interface SetUpDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  enrollments: EnrollmentService;
  throttle: Throttle;
  clock: Clock;
}

/** What the account service lends: the password typed again, and a pending change. */
export interface SetUpTools {
  passwordAgain(session: PortalSession, password: string, who: Who): Promise<boolean>;
  pending(r: Repos, accountId: string, kind: 'setup', value: string): Promise<string>;
}

/** A begun setup: its enrollment at once, or first the proof of a factor the account has. */
export type SetUpBegun = Result<{ enrollmentId: string } | { proofId: string }>;

/** The proof's page: the factor that proves it, its page part, the account's other provers. */
export interface SetUpProofPage {
  factor: { id: string; labelKey: string };
  view: FactorView;
  others: Array<{ id: string; labelKey: string }>;
  canResend: boolean;
}

const EXPIRED = refuse('expired', 'enroll.expired');
const WRONG_PASSWORD = refuse('wrong_credentials', 'account.wrong_password');

export class SetUpService {
  readonly #deps: SetUpDeps;
  readonly #tools: SetUpTools;

  constructor(deps: SetUpDeps, tools: SetUpTools) {
    this.#deps = deps;
    this.#tools = tools;
  }

  /** The password again; then the first of the account's provers begins its proof, or (none) the setup itself. */
  async begin(session: PortalSession, factorId: string, password: string, who: Who): Promise<SetUpBegun> {
    if (!(await this.#tools.passwordAgain(session, password, who))) return WRONG_PASSWORD;
    const [first] = this.#provers(session);
    if (!first) return this.#deps.enrollments.begin(session.account.id, factorId, who.lang, { service: null, browser: who.browser });
    return this.#deps.uow.transaction(async (r) => {
      const proofId = await this.#tools.pending(r, session.account.id, 'setup', factorId);
      await r.pendingChanges.chooseProof(proofId, first.id, this.#deps.clock.now());
      const notice = await first.proveChange.begin(this.#context(r, session, proofId, who.lang, who));
      return notice?.error ? { ok: false, refusal: 'rate_limited', notice } : { ok: true, proofId };
    });
  }

  /** The proof's page while it waits; undefined when the setup is over (or not this factor's). */
  async page(session: PortalSession, factorId: string, proofId: string, lang: Lang): Promise<SetUpProofPage | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.#open(r, session, factorId, proofId);
      const provers = this.#provers(session);
      const factor = provers.find((f) => f.id === open?.proof);
      if (!open || open.proved_at || !factor) return undefined;
      const view = await factor.proveChange.view(this.#context(r, session, proofId, lang));
      const others = provers.filter((f) => f !== factor).map((f) => ({ id: f.id, labelKey: f.labelKey }));
      return { factor: { id: factor.id, labelKey: factor.labelKey }, view, others, canResend: factor.proveChange.resend !== undefined };
    });
  }

  /** The proof's answer, counted like any factor's guess; a right one begins the setup, once. */
  async prove(session: PortalSession, factorId: string, proofId: string, form: FormFields, who: Who): Promise<Result<{ enrollmentId: string }>> {
    const { uow, throttle, clock } = this.#deps;
    const waiting = await this.#open(uow.repos, session, factorId, proofId);
    const factor = this.#provers(session).find((f) => f.id === waiting?.proof);
    if (!waiting || waiting.proved_at || !factor) return EXPIRED;
    const input = factor.parse(form);
    if (input === undefined) return refuse('invalid_input', 'code.format');
    const attempt = await throttle.factor(uow.repos.throttle, session.account.id, who.ip);
    if (!attempt) return refuse('locked', 'throttle.locked');
    return uow.transaction(async (r) => {
      const open = await this.#open(r, session, factorId, proofId);
      if (!open || open.proved_at || open.proof !== factor.id) {
        await r.throttle.settle([], attempt.counted);
        return EXPIRED;
      }
      const now = clock.now();
      const checked = await factor.proveChange.verify(this.#context(r, session, proofId, who.lang), input);
      if (!checked.ok) {
        await r.audit.record({ type: 'signin.factor_failed', accountId: session.account.id, ip: who.ip, detail: { factor: factor.id, purpose: 'setup' } }, now);
        return { ok: false, refusal: 'wrong_answer', notice: { ...checked.notice, error: true } };
      }
      await throttle.succeeded(r.throttle, attempt);
      if (!(await r.pendingChanges.proved(proofId, factor.id, now)) || !(await r.pendingChanges.doneProved(proofId, now))) return EXPIRED;
      return this.#deps.enrollments.beginWith(r, session.account, factorId, who.lang, { service: null, browser: who.browser });
    });
  }

  /** Another of the account's factors proves the setup instead (its proof begins: a code is mailed). */
  async switchProof(session: PortalSession, factorId: string, proofId: string, proverId: unknown, who: Who): Promise<Result> {
    const prover = this.#provers(session).find((f) => f.id === proverId);
    if (!prover) return refuse('invalid_input', 'error.bad_request');
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.#open(r, session, factorId, proofId);
      if (!open || open.proved_at) return EXPIRED;
      if (open.proof === prover.id) return { ok: true };
      await r.pendingChanges.chooseProof(proofId, prover.id, this.#deps.clock.now());
      const notice = await prover.proveChange.begin(this.#context(r, session, proofId, who.lang, who));
      return notice?.error ? { ok: false, refusal: 'rate_limited', notice } : { ok: true };
    });
  }

  /** A fresh challenge of the proving factor (a new mail), when it has one to give. */
  async resend(session: PortalSession, factorId: string, proofId: string, who: Who): Promise<Notice | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.#open(r, session, factorId, proofId);
      const prover = this.#provers(session).find((f) => f.id === open?.proof);
      if (!open || open.proved_at || !prover) return undefined;
      return prover.proveChange.resend?.(this.#context(r, session, proofId, who.lang, who));
    });
  }

  // ---------------------------------------------------------------------------------------

  /** The account's factors that prove a change, in the registry's order (the first is offered first). */
  #provers(session: PortalSession): Array<With<'proveChange'>> {
    return this.#deps.factors.having('proveChange', this.#deps.factors.pick(session.account.factorKinds));
  }

  /** The session's open setup `proofId` of factor `factorId`, locked in a transaction. */
  async #open(r: Repos, session: PortalSession, factorId: string, proofId: string) {
    const open = await r.pendingChanges.findOpen(proofId, 'setup', this.#deps.clock.now());
    return open && open.account_id === session.account.id && open.value === factorId ? open : undefined;
  }

  #context(r: Repos, session: PortalSession, proofId: string, lang: Lang, who?: Who): FactorContext {
    const { id, username, name, email } = session.account;
    return { flowId: proofId, account: { id, username, name, email }, lang, repos: r, ...(who && { request: { service: null, browser: who.browser } }) };
  }
}
