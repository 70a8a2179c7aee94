import type { FormFields } from '../../factors/factor.ts';
import type { Outcome } from '../outcomes.ts';
import { EXPIRED, type Requester, type SignIn, type SignInDeps, context, load, passwordAllowed } from './context.ts';
import { finish } from './finish.ts';
import { advanced, lock, offState, refused } from './guards.ts';

/**
 * A password-only account, where a second factor is needed (the RP asks for it, or password
 * sign-in has ended), sets one up right here (SPEC §4) — an emailed code or the app — and then
 * goes on to the RP with the higher level.
 */
export async function setUp(deps: SignInDeps, uid: string, requester: Requester, factorId: unknown): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const off = offState(deps, signIn, ['upgrade', 'enroll']);
  if (off) return off;
  const factor = typeof factorId === 'string' ? deps.factors.get(factorId) : undefined;
  const account = signIn.account;
  if (!factor || !account) return { kind: 'bad_request', code: 'unknown_factor' };
  return deps.uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['upgrade', 'enroll']);
    if (elsewhere) return elsewhere;
    const begun = await deps.enrollments.beginWith(r, account, factor.id, signIn.mailLang, context(deps, r, signIn, account).request);
    if (!begun.ok) return refused(deps, signIn, 'rate_limited', begun.notice, undefined, r);
    await r.signIns.update(uid, { state: 'enroll', factor: factor.id, enrollmentId: begun.enrollmentId }, deps.clock.now());
    // The setup page itself says where the code went: no second notice saying it again.
    return advanced(deps, signIn, null);
  });
}

/** The proof for the factor being set up: once confirmed, the sign-in goes on with it. */
export async function confirmSetUp(deps: SignInDeps, signIn: SignIn, requester: Requester, form: FormFields): Promise<Outcome> {
  const { account, enrollmentId, factor } = signIn;
  if (!account || !enrollmentId || !factor) return { kind: 'wrong_step', uid: signIn.uid };
  if (factor.parse(form) === undefined) return refused(deps, signIn, 'invalid_input', { key: 'code.format' });
  const { uow, throttle, enrollments } = deps;
  const attempt = await throttle.factor(uow.repos.throttle, account.id, requester.ip);
  if (!attempt) return refused(deps, signIn, 'locked', { key: 'throttle.locked' });
  return uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['enroll'], factor.id);
    if (elsewhere) {
      await r.throttle.settle([], attempt.counted);
      return elsewhere;
    }
    const confirmed = await enrollments.confirmWith(r, account, enrollmentId, form, attempt, { ip: requester.ip, lang: signIn.mailLang });
    if (!confirmed.ok) {
      if (confirmed.refusal === 'expired') {
        // The setup took too long: back to the choice, to begin again.
        await r.signIns.update(signIn.uid, { state: 'upgrade', factor: null, enrollmentId: null }, deps.clock.now());
        return refused(deps, { ...signIn, state: 'upgrade', factor: undefined, enrollmentId: null }, 'wrong_answer', confirmed.notice, undefined, r);
      }
      return refused(deps, signIn, confirmed.refusal, confirmed.notice, undefined, r);
    }
    const withFactor = { ...signIn, account: { ...account, factors: [...account.factors, confirmed.factor] } };
    return finish(deps, r, withFactor, 'two_factor', confirmed.factor, requester, [], confirmed.shownOnce);
  });
}

export async function resendSetUp(deps: SignInDeps, signIn: SignIn): Promise<Outcome> {
  const { account, enrollmentId } = signIn;
  if (!account || !enrollmentId) return { kind: 'wrong_step', uid: signIn.uid };
  return deps.uow.transaction(async (r) => {
    const notice = await deps.enrollments.resend(r, account, enrollmentId, signIn.mailLang, context(deps, r, signIn, account).request);
    if (!notice) return { kind: 'bad_request', code: 'nothing_to_resend' };
    return notice.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(deps, signIn, notice);
  });
}

/** From the upgrade page: password only after all, where the RP and the cut-off allow it. */
export async function continueWithPassword(deps: SignInDeps, uid: string, requester: Requester): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const off = offState(deps, signIn, ['upgrade', 'enroll']);
  if (off) return off;
  if (!signIn.account || !passwordAllowed(deps, signIn, deps.clock.now())) return { kind: 'wrong_step', uid };
  return deps.uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['upgrade', 'enroll']);
    return elsewhere ?? finish(deps, r, signIn, 'password', null, requester, []);
  });
}
