import type { Repos } from '../../db/repositories/index.ts';
import type { Factor, FormFields } from '../../factors/factor.ts';
import type { Outcome } from '../outcomes.ts';
import { proofOf } from '../proof.ts';
import { EXPIRED, type Requester, type SignIn, type SignInDeps, accountOf, asking, flowContext, load, owns } from './context.ts';
import { confirmSetUp, resendSetUp } from './enroll.ts';
import { finish } from './finish.ts';
import { verifyGuarded } from './guarded.ts';
import { advanced, factorFailure, lock, offState, refused, shown } from './guards.ts';

/** Checks the citizen's answer for the current factor (or for the factor being set up). */
export async function verify(deps: SignInDeps, uid: string, requester: Requester, form: FormFields): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  if (signIn.state === 'enroll') return confirmSetUp(deps, signIn, requester, form);
  if (signIn.state === 'guarded') return verifyGuarded(deps, signIn, requester, form);
  const off = offState(deps, signIn, ['factor']);
  if (off) return off;
  const { factor, account } = signIn;
  const proof = proofOf(factor, flowContext(deps, deps.uow.repos, signIn));
  if (!factor || !proof) return { kind: 'wrong_step', uid };
  if (proof.answered === 'out_of_band') return collect(deps, signIn, requester, factor, form);
  if (account && !owns(account, factor)) return { kind: 'bad_request', code: 'unknown_factor' };
  const input = factor.parse(form);
  if (input === undefined) return refused(deps, signIn, 'invalid_input', { key: 'code.format' });

  const { uow, throttle, clock } = deps;
  // Counted before the check, so parallel guesses cannot slip past the limit (a passwordless
  // proof, before it names an account, on the sign-in itself).
  const attempt = await throttle.factor(uow.repos.throttle, account?.id ?? `flow:${uid}`, requester.ip);
  if (!attempt) return refused(deps, signIn, 'locked', { key: 'throttle.locked' });
  return uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['factor'], factor.id);
    if (elsewhere) {
      // Another request of this sign-in moved it on first (a double click): no guess.
      await r.throttle.settle([], attempt.counted);
      return elsewhere;
    }
    const bound = proofOf(factor, flowContext(deps, r, signIn));
    const result = bound?.answered === 'typed' ? await bound.verify(input) : ({ ok: false, notice: { key: 'code.invalid' } } as const);
    if (!result.ok) {
      await r.audit.record(factorFailure(deps, signIn, account?.id ?? null, factor, attempt, requester, result.notice), clock.now());
      return refused(deps, signIn, 'wrong_answer', result.notice, undefined, r);
    }
    // A right answer is no failure: take back its count (on the IP too, which many share).
    await throttle.succeeded(r.throttle, attempt);
    return finishProved(deps, r, signIn, factor, result.accountId, requester);
  });
}

/**
 * An out-of-band factor's answer was given elsewhere (approved on a phone): the browser only
 * collects it. That is no guess, so it costs no throttle try (the phone's PIN is counted by
 * the device API); still waiting shows the waiting page again. A passwordless factor's
 * approval names the account the sign-in ends with.
 */
export async function collect(deps: SignInDeps, signIn: SignIn, requester: Requester, factor: Factor, form: FormFields): Promise<Outcome> {
  const input = factor.parse(form);
  if (input === undefined) return refused(deps, signIn, 'invalid_input', { key: 'code.format' });
  const { uow, clock } = deps;
  return uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['factor'], factor.id);
    if (elsewhere) return elsewhere;
    const proof = proofOf(factor, flowContext(deps, r, signIn));
    if (proof?.answered !== 'out_of_band') return { kind: 'wrong_step', uid: signIn.uid };
    const collected = await proof.collect();
    if (collected.status === 'pending') return { kind: 'show', shown: await shown(deps, signIn, r), notice: collected.notice };
    if (collected.status !== 'approved') {
      const accountId = signIn.account?.id ?? null;
      await r.audit.record({ type: 'signin.factor_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: collected.notice.key } }, clock.now());
      return refused(deps, signIn, 'wrong_answer', collected.notice, undefined, r);
    }
    return finishProved(deps, r, signIn, factor, collected.accountId, requester);
  });
}

/**
 * A proof succeeded: after a password, the sign-in ends with its account; a passwordless
 * proof names the account it ends with.
 */
export async function finishProved(deps: SignInDeps, r: Repos, signIn: SignIn, factor: Factor, accountId: string | undefined, requester: Requester): Promise<Outcome> {
  if (signIn.account) return finish(deps, r, signIn, 'two_factor', factor, requester, []);
  const found = accountId ? await r.accounts.findById(accountId) : undefined;
  if (!found) return refused(deps, signIn, 'wrong_answer', { key: 'error.bad_request' }, undefined, r);
  const account = { ...accountOf(found), factors: [] };
  return finish(deps, r, { ...signIn, account, passwordless: true }, 'two_factor', factor, requester, []);
}

/** Asks the current factor (or the one being set up) for a fresh challenge (a new email). */
export async function resend(deps: SignInDeps, uid: string, requester: Requester): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  if (signIn.state === 'enroll') return resendSetUp(deps, signIn);
  const off = offState(deps, signIn, ['factor']);
  if (off) return off;
  const { factor, account } = signIn;
  const proof = proofOf(factor, flowContext(deps, deps.uow.repos, signIn));
  if (!factor || !proof?.resend || (account && !owns(account, factor))) return { kind: 'bad_request', code: 'nothing_to_resend' };
  return deps.uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['factor'], factor.id);
    if (elsewhere) return elsewhere;
    const notice = await proofOf(factor, { ...flowContext(deps, r, signIn), asking: asking(signIn, requester) })!.resend!();
    return notice.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(deps, signIn, notice);
  });
}
