/**
 * The sign-in core: the rules of signing a citizen in at an RP (or at kapu's account portal),
 * with no HTTP in sight. The interaction routes (src/interactions) parse a form, call one step
 * here and turn its outcome into a response.
 *
 * One step, one file (src/auth/sign-in/): start, password, choose, verify, status, enroll
 * (inline setup), guarded, finish. Each step starts from one read of the sign-in (the RP's
 * interaction, kapu's flow, the account: context.ts), runs its guards (guards.ts: the states it
 * accepts, the flow locked and still where the step found it), counts a guess before checking
 * it (throttle), and makes its writes in one unit of work with the flow row locked — or as one
 * conditional update — so two requests of the same sign-in can never both move it on. A
 * finished sign-in stores the interaction's result for oidc-provider in that same unit of work:
 * accountId, acr (the level reached) and amr (finish.ts).
 */
import type { FormFields, Notice } from '../factors/factor.ts';
import type { Outcome } from './outcomes.ts';
import { chooseFactor } from './sign-in/choose.ts';
import type { SignInDeps, StatusOutcome } from './sign-in/context.ts';
import { continueWithPassword, setUp } from './sign-in/enroll.ts';
import { password } from './sign-in/password.ts';
import { abort, chooseMethod, consent, restart, show, startPortal, usePassword } from './sign-in/start.ts';
import { status } from './sign-in/status.ts';
import { resend, verify } from './sign-in/verify.ts';
import type { Who } from './who.ts';

export type { ClientLookup, SignInDeps, StatusOutcome } from './sign-in/context.ts';
export { PORTAL_HOME } from './sign-in/context.ts';

export class SignInService {
  readonly #deps: SignInDeps;

  constructor(deps: SignInDeps) {
    this.#deps = deps;
  }

  /** Starts a sign-in at the account portal; `sessionToken` ends when it finishes. */
  startPortal(sessionToken?: string): Promise<string> {
    return startPortal(this.#deps, sessionToken);
  }

  /** The flow's current page. */
  show(uid: string, requester: Who, notice: Notice | null): Promise<Outcome> {
    return show(this.#deps, uid, requester, notice);
  }

  /** The citizen picked a sign-in method on the chooser. */
  chooseMethod(uid: string, requester: Who, method: unknown): Promise<Outcome> {
    return chooseMethod(this.#deps, uid, requester, method);
  }

  /** From a passwordless proof's page to the password, with that factor after it. */
  usePassword(uid: string, requester: Who): Promise<Outcome> {
    return usePassword(this.#deps, uid, requester);
  }

  /** Back to the method chooser. */
  restart(uid: string, requester: Who): Promise<Outcome> {
    return restart(this.#deps, uid, requester);
  }

  /** Username + password. */
  password(uid: string, requester: Who, form: FormFields): Promise<Outcome> {
    return password(this.#deps, uid, requester, form);
  }

  /** Pick (or switch to) one of the account's factors. */
  chooseFactor(uid: string, requester: Who, factorId: unknown): Promise<Outcome> {
    return chooseFactor(this.#deps, uid, requester, factorId);
  }

  /** The answer for the current factor (or the guarded proof, or the factor being set up). */
  verify(uid: string, requester: Who, form: FormFields): Promise<Outcome> {
    return verify(this.#deps, uid, requester, form);
  }

  /** A fresh challenge for the current factor (or the one being set up). */
  resend(uid: string, requester: Who): Promise<Outcome> {
    return resend(this.#deps, uid, requester);
  }

  /** Where an out-of-band factor's challenge stands. Costs no try. */
  status(uid: string, requester: Who): Promise<StatusOutcome> {
    return status(this.#deps, uid, requester);
  }

  /** A password-only account sets a factor up right here. */
  setUp(uid: string, requester: Who, factorId: unknown): Promise<Outcome> {
    return setUp(this.#deps, uid, requester, factorId);
  }

  /** From the upgrade page: password only after all, where allowed. */
  continueWithPassword(uid: string, requester: Who): Promise<Outcome> {
    return continueWithPassword(this.#deps, uid, requester);
  }

  /** The citizen allows an RP that asks for consent. */
  consent(uid: string, requester: Who): Promise<Outcome> {
    return consent(this.#deps, uid, requester);
  }

  /** The citizen cancels; the RP gets an OAuth error back. */
  abort(uid: string, requester: Who): Promise<Outcome> {
    return abort(this.#deps, uid, requester);
  }
}
