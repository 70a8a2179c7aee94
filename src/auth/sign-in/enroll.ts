/** Inline setup (SPEC §4): a password-only account sets a second factor up during the sign-in, or goes on with the password where allowed. */
import type { FormFields } from '../../factors/factor.ts';
import type { FlowState } from '../flow.ts';
import type { Outcome } from '../outcomes.ts';
import { EXPIRED, type SignIn, type SignInDeps, context, load, passwordAllowed } from './context.ts';
import { finish } from './finish.ts';
import { advanced, answerable, counted, firstStop, inState, known, locked, present, refused } from './guards.ts';
import type { Who } from '../who.ts';

/**
 * A password-only account, where a second factor is needed (the RP asks for it, or password
 * sign-in has ended), sets one up right here (SPEC §4) — an emailed code or the app — and then
 * goes on to the RP with the higher level.
 */
export async function setUp(deps: SignInDeps, uid: string, requester: Who, factorId: unknown): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const factor = deps.factors.with(typeof factorId === 'string' ? factorId : undefined, 'enroll');
  const stop = await firstStop(inState(signIn, UPGRADING), known(factor && signIn.account, 'unknown_factor'));
  if (stop) return stop;
  const account = signIn.account!;
  return locked(deps, signIn, UPGRADING, async (r) => {
    const begun = await deps.enrollments.beginWith(r, account, factor!.id, signIn.mailLang, context(r, signIn, account).request);
    if (!begun.ok) return refused(deps, signIn, 'rate_limited', begun.notice, undefined, r);
    await r.signIns.update(uid, { state: 'enroll', factor: factor!.id, enrollmentId: begun.enrollmentId }, deps.clock.now());
    // The setup page itself says where the code went: no second notice saying it again.
    return advanced(signIn, null);
  });
}

const UPGRADING: FlowState[] = ['upgrade', 'enroll'];

/** The proof for the factor being set up: once confirmed, the sign-in goes on with it. */
export async function confirmSetUp(deps: SignInDeps, signIn: SignIn, requester: Who, form: FormFields): Promise<Outcome> {
  const { account, enrollmentId, factor } = signIn;
  const stop = await firstStop(present(signIn, account, enrollmentId, factor), answerable(deps, signIn, factor?.parse(form)));
  if (stop) return stop;
  const attempt = await deps.throttle.factor(deps.uow.repos.throttle, account!.id, requester.ip);
  const throttled = await firstStop(counted(deps, signIn, attempt));
  if (throttled) return throttled;
  return locked(
    deps,
    signIn,
    ['enroll'],
    async (r) => {
      const confirmed = await deps.enrollments.confirmWith(r, account!, enrollmentId!, form, attempt!, { ...requester, lang: signIn.mailLang });
      if (confirmed.ok) {
        const withFactor = { ...signIn, account: { ...account!, factors: [...account!.factors, confirmed.factor] } };
        return finish(deps, r, withFactor, 'two_factor', confirmed.factor, requester, [], { shownOnce: confirmed.shownOnce, amr: confirmed.amr });
      }
      if (confirmed.refusal !== 'expired') return refused(deps, signIn, confirmed.refusal, confirmed.notice, undefined, r);
      // The setup took too long: back to the choice, to begin again.
      await r.signIns.update(signIn.uid, { state: 'upgrade', factor: null, enrollmentId: null }, deps.clock.now());
      return refused(deps, { ...signIn, state: 'upgrade', factor: undefined, enrollmentId: null }, 'wrong_answer', confirmed.notice, undefined, r);
    },
    { factor: factor!.id, attempt: attempt! },
  );
}

/** A fresh proof for the factor being set up (a new code mail). */
export async function resendSetUp(deps: SignInDeps, signIn: SignIn): Promise<Outcome> {
  const { account, enrollmentId } = signIn;
  const stop = await firstStop(present(signIn, account, enrollmentId));
  if (stop) return stop;
  return deps.uow.transaction(async (r) => {
    const notice = await deps.enrollments.resend(r, account!, enrollmentId!, signIn.mailLang, context(r, signIn, account!).request);
    if (!notice) return { kind: 'bad_request', code: 'nothing_to_resend' };
    return notice.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(signIn, notice);
  });
}

/** From the upgrade page: password only after all, where the RP and the cut-off allow it. */
export async function continueWithPassword(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const stop = await firstStop(inState(signIn, UPGRADING), present(signIn, signIn.account && passwordAllowed(deps, signIn, deps.clock.now())));
  if (stop) return stop;
  return locked(deps, signIn, UPGRADING, (r) => finish(deps, r, signIn, 'password', null, requester, []));
}
