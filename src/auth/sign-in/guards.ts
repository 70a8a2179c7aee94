import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { Factor, Notice } from '../../factors/factor.ts';
import { type Attempt } from '../../security/throttle.ts';
import { type FlowState, isFlowState } from '../flow.ts';
import type { Outcome, Refusal, Shown } from '../outcomes.ts';
import { proofOf } from '../proof.ts';
import { EXPIRED, type Requester, type SignIn, type SignInDeps, asking, flowContext } from './context.ts';
import { page } from './page.ts';

/** The outcome for a step posted in a state it does not accept, or null when it fits. */
export function offState(deps: SignInDeps, signIn: Pick<SignIn, 'uid' | 'state'>, accepted: FlowState[]): Outcome | null {
  if (accepted.includes(signIn.state)) return null;
  return signIn.state === 'done' ? { kind: 'already_finished', uid: signIn.uid } : { kind: 'wrong_step', uid: signIn.uid };
}

/**
 * Locks the flow for the rest of the unit of work and checks it still is where the step
 * found it (and at the same factor); the outcome when it is not, or null.
 */
export async function lock(deps: SignInDeps, r: Repos, signIn: SignIn, accepted: FlowState[], factor?: string): Promise<Outcome | null> {
  const flow = await r.signIns.lock(signIn.uid);
  if (!flow) return EXPIRED;
  const state = isFlowState(flow.state) ? flow.state : 'choose_method';
  const off = offState(deps, { uid: signIn.uid, state }, accepted);
  if (off) return off;
  return factor !== undefined && flow.factor !== factor ? { kind: 'wrong_step', uid: signIn.uid } : null;
}

/** A one-statement move of the flow (from one of `from`); who loses a race is told why. */
export async function advance(deps: SignInDeps, signIn: SignIn, from: FlowState[], change: { state: FlowState; method: string | null; factor?: null }): Promise<Outcome> {
  const { signIns } = deps.uow.repos;
  if (await signIns.advance(signIn.uid, from, change, deps.clock.now())) return advanced(deps, signIn, null);
  const state = await signIns.state(signIn.uid);
  if (state === undefined) return EXPIRED;
  return offState(deps, { uid: signIn.uid, state: isFlowState(state) ? state : 'choose_method' }, from) ?? { kind: 'wrong_step', uid: signIn.uid };
}

export function advanced(deps: SignInDeps, signIn: SignIn, notice: Notice | null): Outcome {
  return { kind: 'advanced', uid: signIn.uid, notice };
}

export async function refused(deps: SignInDeps, signIn: SignIn, refusal: Refusal, notice: Notice, username?: string, repos: Repos = deps.uow.repos): Promise<Outcome> {
  return { kind: 'refused', refusal, notice: { ...notice, error: true }, shown: await shown(deps, signIn, repos, username) };
}

export async function shown(deps: SignInDeps, signIn: SignIn, repos: Repos, username = ''): Promise<Shown> {
  return {
    uid: signIn.uid,
    // A guarded sign-in names no account until it is proved: not even to the logs.
    accountId: signIn.state === 'guarded' ? null : (signIn.account?.id ?? null),
    lang: signIn.lang,
    client: signIn.client,
    redirectUri: signIn.redirectUri,
    page: await page(deps, signIn, repos, username),
  };
}

export function factorFailure(deps: SignInDeps, signIn: SignIn, accountId: string | null, factor: Factor, attempt: Attempt, requester: Requester, notice: Notice): AuditEvent[] {
  const failed: AuditEvent = { type: 'signin.factor_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: notice.key } };
  return attempt.locked ? [{ type: 'signin.locked', accountId, ip: requester.ip, detail: { factor: factor.id } }, failed] : [failed];
}

/** Starts the factor the flow just moved to (an emailed code is sent here). */
export async function begin(deps: SignInDeps, r: Repos, signIn: SignIn & { factor: Factor }, requester: Requester): Promise<Outcome> {
  const proof = proofOf(signIn.factor, { ...flowContext(deps, r, signIn), asking: asking(signIn, requester) });
  const notice = proof ? await proof.begin() : null;
  // A refused start (the hourly code cap) is said as such: never "sent".
  return notice?.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(deps, signIn, notice);
}
