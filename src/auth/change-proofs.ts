/**
 * A second factor's proof of a change in the portal (SPEC §5: a change that moves a factor asks
 * for one first) — a new email address (email-change.ts), another factor (setup-proof.ts). The
 * proof is the account's factors' `proveChange`, bound to the change: its pending change keeps
 * which factor proves it and when it did, and nothing of the change happens before (enforced in
 * the queries). Each change opens its own rows (`open`) and says what happens once proven.
 */
import type { Clock } from '../clock.ts';
import type { Repos, TxRepos } from '../db/repositories/index.ts';
import type { PendingChangesRepository } from '../db/repositories/pending-changes.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorContext, FactorRegistry, FactorView, FormFields, Notice, With } from '../factors/factor.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import type { PortalSession } from './portal-sessions.ts';
import { type Refused, type Result, refuse } from './result.ts';
import type { Who } from './who.ts';

export interface ChangeProofDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  throttle: Throttle;
  clock: Clock;
}

/** A pending change as its proof needs it: the factor chosen to prove it, and whether it did. */
export interface OpenChange {
  proof: string | null;
  proved_at: Date | null;
}

/** The proof's page: the factor that proves it, its page part, the account's other provers. */
export interface ProofPage {
  factor: { id: string; labelKey: string };
  view: FactorView;
  others: Array<{ id: string; labelKey: string }>;
  canResend: boolean;
}

/** A pending change's row, as the repository reads it. */
export type PendingChange = NonNullable<Awaited<ReturnType<PendingChangesRepository['peekOpen']>>>;

/** Whose change it is and what it holds: the row as this change needs it, or undefined when it is not the session's. */
export type OwnChange<O> = (row: PendingChange | undefined, session: PortalSession) => O | undefined;

export const EXPIRED = refuse('expired', 'enroll.expired');

export class ChangeProofs<O extends OpenChange> {
  readonly #deps: ChangeProofDeps;
  /** The kind of pending change this proof is for. */
  readonly #kind: 'email' | 'setup';
  readonly #own: OwnChange<O>;
  /** What the audit log calls the proof's purpose ('email_change', 'setup'). */
  readonly #purpose: string;

  constructor(deps: ChangeProofDeps, purpose: string, kind: 'email' | 'setup', own: OwnChange<O>) {
    this.#deps = deps;
    this.#purpose = purpose;
    this.#kind = kind;
    this.#own = own;
  }

  /** The session's open change `changeId`, locked for the transaction; undefined when it is over or not its. */
  async open(r: TxRepos, session: PortalSession, changeId: string): Promise<O | undefined> {
    return this.#own(await r.pendingChanges.findOpen(changeId, this.#kind, this.#deps.clock.now()), session);
  }

  /** The same, unlocked: a look before a unit of work, which reads it again with `open`. */
  async #peek(session: PortalSession, changeId: string): Promise<O | undefined> {
    return this.#own(await this.#deps.uow.repos.pendingChanges.peekOpen(changeId, this.#kind, this.#deps.clock.now()), session);
  }

  /** The account's factors that prove a change, in the registry's order (the first is offered first). */
  provers(session: PortalSession): Array<With<'proveChange'>> {
    return this.#deps.factors.having('proveChange', this.#deps.factors.pick(session.account.factorKinds));
  }

  /** The first prover's proof begins (a code is mailed); its refusal, or null. Call with `provers` not empty. */
  async begin(r: Repos, session: PortalSession, changeId: string, who: Who): Promise<Refused | null> {
    const [first] = this.provers(session);
    await r.pendingChanges.chooseProof(changeId, first!.id, this.#deps.clock.now());
    const notice = await first!.proveChange.begin(this.context(r, session, changeId, who.lang, who));
    return notice?.error ? { ok: false, refusal: 'rate_limited', notice } : null;
  }

  /** The proof's page while it waits for one, from an open change. */
  async page(r: Repos, session: PortalSession, changeId: string, open: O, lang: Lang): Promise<ProofPage | undefined> {
    const provers = this.provers(session);
    const factor = provers.find((f) => f.id === open.proof);
    if (!factor || open.proved_at) return undefined;
    const view = await factor.proveChange.view(this.context(r, session, changeId, lang));
    const others = provers.filter((f) => f !== factor).map((f) => ({ id: f.id, labelKey: f.labelKey }));
    return { factor: { id: factor.id, labelKey: factor.labelKey }, view, others, canResend: factor.proveChange.resend !== undefined };
  }

  /**
   * The proof's answer, counted like any factor's guess. A right one marks the change proven,
   * once, and `then` makes what follows in the same unit of work. Proven already: `already`.
   */
  async prove<T extends object>(session: PortalSession, changeId: string, form: FormFields, who: Who, then: (r: TxRepos, open: O) => Promise<Result<T>>, already: Result<T> = EXPIRED): Promise<Result<T>> {
    const { uow, throttle, clock } = this.#deps;
    const waiting = await this.#peek(session, changeId);
    if (!waiting) return EXPIRED;
    if (waiting.proved_at) return already;
    const factor = this.provers(session).find((f) => f.id === waiting.proof);
    if (!factor) return EXPIRED;
    const input = factor.parse(form);
    if (input === undefined) return refuse('invalid_input', 'code.format');
    const attempt = await throttle.factor(uow.repos.throttle, session.account.id, who.ip);
    if (!attempt) return refuse('locked', 'throttle.locked');
    return uow.transaction(async (r) => {
      const open = await this.open(r, session, changeId);
      if (!open || open.proved_at || open.proof !== factor.id) {
        await r.throttle.settle([], attempt.counted);
        return open ? already : EXPIRED;
      }
      const now = clock.now();
      const checked = await factor.proveChange.verify(this.context(r, session, changeId, who.lang), input);
      if (!checked.ok) {
        await r.audit.record({ type: 'signin.factor_failed', accountId: session.account.id, ip: who.ip, detail: { factor: factor.id, purpose: this.#purpose } }, now);
        return { ok: false, refusal: 'wrong_answer', notice: { ...checked.notice, error: true } };
      }
      await throttle.succeeded(r.throttle, attempt);
      if (!(await r.pendingChanges.proved(changeId, factor.id, now))) return EXPIRED;
      return then(r, open);
    });
  }

  /** Another of the account's factors proves the change instead (its proof begins: a code is mailed). */
  async switchTo(session: PortalSession, changeId: string, factorId: unknown, who: Who): Promise<Result> {
    const factor = this.provers(session).find((f) => f.id === factorId);
    if (!factor) return refuse('invalid_input', 'error.bad_request');
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.open(r, session, changeId);
      if (!open || open.proved_at) return EXPIRED;
      if (open.proof === factor.id) return { ok: true };
      await r.pendingChanges.chooseProof(changeId, factor.id, this.#deps.clock.now());
      const notice = await factor.proveChange.begin(this.context(r, session, changeId, who.lang, who));
      return notice?.error ? { ok: false, refusal: 'rate_limited', notice } : { ok: true };
    });
  }

  /** A fresh challenge of the proving factor (a new mail), when it has one to give. */
  resend(r: Repos, session: PortalSession, changeId: string, open: O, who: Who): Promise<Notice> | undefined {
    const factor = this.provers(session).find((f) => f.id === open.proof);
    return factor?.proveChange.resend?.(this.context(r, session, changeId, who.lang, who));
  }

  context(r: Repos, session: PortalSession, changeId: string, lang: Lang, who?: Who): FactorContext {
    const { id, username, name, email } = session.account;
    return { flowId: changeId, account: { id, username, name, email }, lang, repos: r, ...(who && { request: { service: null, browser: who.browser } }) };
  }
}
