/** The answer to the current factor: a typed code (counted first), an approval collected, or a fresh challenge. */
import type { Repos } from '../../db/repositories/index.ts';
import type { Factor, FormFields, Verification } from '../../factors/factor.ts';
import type { Outcome } from '../outcomes.ts';
import type { Attempt } from '../../security/throttle.ts';
import { proofOf } from '../proof.ts';
import { EXPIRED, type SignIn, type SignInDeps, accountOf, asking, flowContext, load, owns } from './context.ts';
import { confirmSetUp, resendSetUp } from './enroll.ts';
import { type FinishOptions, finish, whyNot } from './finish.ts';
import { verifyGuarded } from './guarded.ts';
import { advanced, answerable, counted, factorFailure, firstStop, inState, known, locked, present, refused, shown } from './guards.ts';
import type { Who } from '../who.ts';

/** Checks the citizen's answer for the current factor (or for the guarded proof, or the factor being set up). */
export async function verify(deps: SignInDeps, uid: string, requester: Who, form: FormFields): Promise<Outcome> {
  // Counted before the check, so parallel guesses cannot slip past the limit (a passwordless
  // proof, before it names an account, on the sign-in itself): in the statement that reads the
  // sign-in, while it is at a factor whose answer is typed.
  const count = deps.throttle.factorCount(uid, requester.ip, answeredBy(deps, form));
  const loaded = await load(deps, uid, requester, undefined, count);
  if (!loaded) return EXPIRED;
  const { signIn } = loaded;
  const attempt = await deps.throttle.factorAdmitted(deps.uow.repos.throttle, count, signIn.account?.id ?? null, loaded.counted ?? []);
  const stop = await checked(deps, signIn, requester, form);
  if (stop.kind === 'stop') {
    // What stops the step before the check was no guess: its count is taken back.
    if (attempt) await deps.throttle.uncount(deps.uow.repos.throttle, attempt);
    return stop.outcome;
  }
  const { factor, input } = stop;
  const throttled = await firstStop(counted(deps, signIn, attempt));
  if (throttled) return throttled;
  // A lock-free proof counts its answer in a statement of its own, and the finishing statement
  // checks the flow and uses the answer up: no transaction (src/factors/capabilities.ts).
  const proof = proofOf(factor, flowContext(deps.uow.repos, signIn));
  if (proof?.answered === 'typed' && proof.lockFree) return answer(deps, deps.uow.repos, signIn, factor, input, attempt!, requester, true);
  return locked(deps, signIn, ['factor'], (r) => answer(deps, r, signIn, factor, input, attempt!, requester), { factor: factor.id, attempt: attempt! });
}

/**
 * The factors whose answer is a typed guess and for which the form holds one (it parses): after
 * a password, and before one (passwordless). A form that is no answer for the flow's factor is
 * not counted at all (it costs no try, and leaves no trace on the throttle).
 */
function answeredBy(deps: SignInDeps, form: FormFields): { signIn: string[]; alone: string[] } {
  const answers = deps.factors.all().filter((f) => f.parse(form) !== undefined);
  return { signIn: answers.filter((f) => f.signIn?.answered === 'typed').map((f) => f.id), alone: answers.filter((f) => f.passwordless?.answered === 'typed').map((f) => f.id) };
}

/** What the step does with the form before any check of the answer: go on with a typed answer, or stop (another step's form, an approval to collect, nothing to check). */
async function checked(deps: SignInDeps, signIn: SignIn, requester: Who, form: FormFields): Promise<{ kind: 'stop'; outcome: Outcome } | { kind: 'typed'; factor: Factor; input: unknown }> {
  const stop = (outcome: Outcome) => ({ kind: 'stop' as const, outcome });
  if (signIn.state === 'enroll') return stop(await confirmSetUp(deps, signIn, requester, form));
  if (signIn.state === 'guarded') return stop(await verifyGuarded(deps, signIn, requester, form));
  const { account } = signIn;
  const proof = proofOf(signIn.factor, flowContext(deps.uow.repos, signIn));
  const before = await firstStop(inState(signIn, ['factor']), present(signIn, signIn.factor, proof));
  if (before) return stop(before);
  // The checks above vouch for these.
  const factor = signIn.factor!;
  if (proof!.answered === 'out_of_band') return stop(await collect(deps, signIn, requester, factor, form));
  const input = factor.parse(form);
  const off = await firstStop(known(!account || owns(account, factor), 'unknown_factor'), answerable(deps, signIn, input));
  return off ? stop(off) : { kind: 'typed', factor, input };
}

/**
 * A typed answer, checked by the factor: a right one is no failure (its count is taken back) and
 * ends the sign-in. `lockFree`: the flow is not locked (the finishing statement checks it is
 * still at this factor, and uses the answer up), and an answer another request of the sign-in
 * used up first (a double click) was no guess: that request ended it.
 */
async function answer(deps: SignInDeps, r: Repos, signIn: SignIn, factor: Factor, input: unknown, attempt: Attempt, requester: Who, lockFree = false): Promise<Outcome> {
  const proof = proofOf(factor, flowContext(r, signIn));
  const result: Verification = proof?.answered === 'typed' ? await proof.verify(input) : { ok: false, notice: { key: 'code.invalid' } };
  if (!result.ok && lockFree && result.spent) {
    await r.throttle.settle([], attempt.counted);
    return whyNot(deps, signIn, ['factor'], true);
  }
  if (!result.ok) {
    await r.audit.record(factorFailure(signIn, signIn.account?.id ?? null, factor, attempt, requester, result), deps.clock.now());
    return refused(deps, signIn, 'wrong_answer', result.notice, undefined, r);
  }
  const end: FinishOptions = lockFree ? { from: ['factor'], fromFactor: factor.id, ...(result.spend && { spend: result.spend }) } : {};
  // A right answer is no failure: on the IP too, which many share (written with the end).
  return finishProved(deps, r, signIn, factor, result.accountId, requester, { ...end, amr: result.amr, settle: deps.throttle.settlement(attempt) });
}

/**
 * An out-of-band factor's answer was given elsewhere (approved on a phone): the browser only
 * collects it. That is no guess, so it costs no throttle try (the phone's PIN is counted by
 * the device API); still waiting shows the waiting page again. A passwordless factor's
 * approval names the account the sign-in ends with.
 */
export async function collect(deps: SignInDeps, signIn: SignIn, requester: Who, factor: Factor, form: FormFields): Promise<Outcome> {
  const stop = await firstStop(answerable(deps, signIn, factor.parse(form)));
  if (stop) return stop;
  return locked(
    deps,
    signIn,
    ['factor'],
    async (r) => {
      const proof = proofOf(factor, flowContext(r, signIn));
      if (proof?.answered !== 'out_of_band') return { kind: 'wrong_step', uid: signIn.uid };
      const collected = await proof.collect();
      if (collected.status === 'pending') return { kind: 'show', shown: await shown(deps, signIn, r), notice: collected.notice };
      if (collected.status === 'approved') return finishProved(deps, r, signIn, factor, collected.accountId, requester, {});
      const accountId = signIn.account?.id ?? null;
      await r.audit.record({ type: 'signin.factor_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: collected.notice.key } }, deps.clock.now());
      return refused(deps, signIn, 'wrong_answer', collected.notice, undefined, r);
    },
    { factor: factor.id },
  );
}

/**
 * A proof succeeded: after a password, the sign-in ends with its account; a passwordless
 * proof names the account it ends with.
 */
export async function finishProved(deps: SignInDeps, r: Repos, signIn: SignIn, factor: Factor, accountId: string | undefined, requester: Who, options: FinishOptions): Promise<Outcome> {
  if (signIn.account) return finish(deps, r, signIn, 'two_factor', factor, requester, [], options);
  const found = accountId ? await r.accounts.findById(accountId) : undefined;
  if (!found) {
    if (options.settle) await r.throttle.settle(options.settle.clear, options.settle.takeBack);
    return refused(deps, signIn, 'wrong_answer', { key: 'error.bad_request' }, undefined, r);
  }
  const account = { ...accountOf(found), factors: [] };
  return finish(deps, r, { ...signIn, account, passwordless: true }, 'two_factor', factor, requester, [], options);
}

/** Asks the current factor (or the one being set up) for a fresh challenge (a new email). */
export async function resend(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  if (signIn.state === 'enroll') return resendSetUp(deps, signIn);
  const { factor, account } = signIn;
  const canResend = factor && proofOf(factor, flowContext(deps.uow.repos, signIn))?.resend && (!account || owns(account, factor));
  const stop = await firstStop(inState(signIn, ['factor']), known(canResend, 'nothing_to_resend'));
  if (stop) return stop;
  const current = factor!;
  return locked(
    deps,
    signIn,
    ['factor'],
    async (r) => {
      const notice = await proofOf(current, { ...flowContext(r, signIn), asking: asking(signIn, requester) })!.resend!();
      return notice.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(signIn, notice);
    },
    { factor: current.id },
  );
}
