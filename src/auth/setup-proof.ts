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
import type { FactorRegistry, FormFields, Notice } from '../factors/factor.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import { ChangeProofs, EXPIRED, type ProofPage } from './change-proofs.ts';
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

const WRONG_PASSWORD = refuse('wrong_credentials', 'account.wrong_password');

export class SetUpService {
  readonly #deps: SetUpDeps;
  readonly #tools: SetUpTools;

  constructor(deps: SetUpDeps, tools: SetUpTools) {
    this.#deps = deps;
    this.#tools = tools;
  }

  /** The proof of the setup of `factorId`: its pending change of kind `setup`. */
  #proofs(factorId: string): ChangeProofs<{ proof: string | null; proved_at: Date | null }> {
    return new ChangeProofs(this.#deps, 'setup', 'setup', (open, session) => (open && open.account_id === session.account.id && open.value === factorId ? open : undefined));
  }

  /** The password again; then the first of the account's provers begins its proof, or (none) the setup itself. */
  async begin(session: PortalSession, factorId: string, password: string, who: Who): Promise<SetUpBegun> {
    if (!(await this.#tools.passwordAgain(session, password, who))) return WRONG_PASSWORD;
    const proofs = this.#proofs(factorId);
    if (proofs.provers(session).length === 0) return this.#deps.enrollments.begin(session.account.id, factorId, who.lang, { service: null, browser: who.browser });
    return this.#deps.uow.transaction(async (r) => {
      const proofId = await this.#tools.pending(r, session.account.id, 'setup', factorId);
      return (await proofs.begin(r, session, proofId, who)) ?? { ok: true, proofId };
    });
  }

  /** The proof's page while it waits; undefined when the setup is over (or not this factor's). */
  page(session: PortalSession, factorId: string, proofId: string, lang: Lang): Promise<ProofPage | undefined> {
    const proofs = this.#proofs(factorId);
    return this.#deps.uow.transaction(async (r) => {
      const open = await proofs.open(r, session, proofId);
      return open && proofs.page(r, session, proofId, open, lang);
    });
  }

  /** The proof's answer; a right one begins the setup, once (the change is done in the same unit of work). */
  prove(session: PortalSession, factorId: string, proofId: string, form: FormFields, who: Who): Promise<Result<{ enrollmentId: string }>> {
    return this.#proofs(factorId).prove(session, proofId, form, who, async (r) => {
      if (!(await r.pendingChanges.doneProved(proofId, this.#deps.clock.now()))) return EXPIRED;
      return this.#deps.enrollments.beginWith(r, session.account, factorId, who.lang, { service: null, browser: who.browser });
    });
  }

  /** Another of the account's factors proves the setup instead. */
  switchProof(session: PortalSession, factorId: string, proofId: string, proverId: unknown, who: Who): Promise<Result> {
    return this.#proofs(factorId).switchTo(session, proofId, proverId, who);
  }

  /** A fresh challenge of the proving factor (a new mail), when it has one to give. */
  resend(session: PortalSession, factorId: string, proofId: string, who: Who): Promise<Notice | undefined> {
    const proofs = this.#proofs(factorId);
    return this.#deps.uow.transaction(async (r) => {
      const open = await proofs.open(r, session, proofId);
      return open && !open.proved_at ? proofs.resend(r, session, proofId, open, who) : undefined;
    });
  }
}
