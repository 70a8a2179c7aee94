/** The checks steps list before they act, and the shared ways a step ends (advanced, refused, the page shown again). */
import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { Repos, TxRepos } from '../../db/repositories/index.ts';
import type { LiveCode } from '../../db/repositories/one-time-codes.ts';
import type { FlowMove } from '../../db/repositories/sign-ins.ts';
import type { Factor, Notice } from '../../factors/factor.ts';
import { type Attempt, type Settlement } from '../../security/throttle.ts';
import { type FlowState, isFlowState } from '../flow.ts';
import type { Outcome, Shown } from '../outcomes.ts';
import type { Refusal } from '../result.ts';
import { proofOf } from '../proof.ts';
import { EXPIRED, type SignIn, type SignInDeps, asking, flowContext } from './context.ts';
import { page } from './page.ts';
import type { Who } from '../who.ts';

/**
 * The checks a step makes before it acts, as oidc-provider's endpoints list theirs: each is a
 * named function giving the outcome that stops the step, or null to go on; a step lists its
 * checks in order (`firstStop`), then acts.
 */
export type Check = () => Outcome | null | Promise<Outcome | null>;

/** A step's checks in the order listed: the outcome of the first that stops it, or null. */
export async function firstStop(...checks: Check[]): Promise<Outcome | null> {
  for (const check of checks) {
    const stop = await check();
    if (stop) return stop;
  }
  return null;
}

/** The flow is in one of the states the step accepts (else: finished already, or the wrong step). */
export const inState =
  (signIn: Pick<SignIn, 'uid' | 'state'>, accepted: FlowState[]): Check =>
  () =>
    offState(signIn, accepted);

/** The request names something that exists here (a method, a factor). */
export const known =
  (found: unknown, code: string): Check =>
  () =>
    found ? null : { kind: 'bad_request', code };

/** What the step works on is there (an account, a factor, an enrollment); else the form came at the wrong step. */
export const present =
  (signIn: Pick<SignIn, 'uid'>, ...needed: unknown[]): Check =>
  () =>
    needed.every(Boolean) ? null : { kind: 'wrong_step', uid: signIn.uid };

/** The form holds something the factor could take as an answer: else no guess, and no cost. */
export const answerable =
  (deps: SignInDeps, signIn: SignIn, input: unknown): Check =>
  () =>
    input === undefined ? refused(deps, signIn, 'invalid_input', { key: 'code.format' }) : null;

/** The guess was counted (`attempt`); none when the principal or the address is locked. */
export const counted =
  (deps: SignInDeps, signIn: SignIn, attempt: Attempt | null): Check =>
  () =>
    attempt ? null : refused(deps, signIn, 'locked', { key: 'throttle.locked' });

/**
 * The step's writes: one unit of work with the flow locked and still where the step found it
 * (and at the same factor). A guess counted before (`attempt`) is taken back when another
 * request of the sign-in moved it on first (a double click): that was no guess.
 */
export function locked(deps: SignInDeps, signIn: SignIn, accepted: FlowState[], act: (r: TxRepos) => Promise<Outcome>, at: { factor?: string; attempt?: Attempt } = {}): Promise<Outcome> {
  return deps.uow.transaction(async (r) => {
    const elsewhere = await lock(r, signIn, accepted, at.factor);
    if (!elsewhere) return act(r);
    if (at.attempt) await r.throttle.settle([], at.attempt.counted);
    return elsewhere;
  });
}

/** The outcome for a step posted in a state it does not accept, or null when it fits. */
export function offState(signIn: Pick<SignIn, 'uid' | 'state'>, accepted: FlowState[]): Outcome | null {
  if (accepted.includes(signIn.state)) return null;
  return signIn.state === 'done' ? { kind: 'already_finished', uid: signIn.uid } : { kind: 'wrong_step', uid: signIn.uid };
}

/**
 * Locks the flow for the rest of the unit of work and checks it still is where the step
 * found it (and at the same factor); the outcome when it is not, or null.
 */
export async function lock(r: TxRepos, signIn: SignIn, accepted: FlowState[], factor?: string, settle?: Settlement, move?: Omit<FlowMove, 'from'>): Promise<Outcome | null> {
  // With `settle`: a right answer's throttle bookkeeping, in the same statement (whatever the
  // flow's state); with `move`, the flow moved on there too, if it is where the step found it.
  const flow = await r.signIns.lock(signIn.uid, settle, move && { ...move, from: accepted });
  if (!flow) return EXPIRED;
  const state = isFlowState(flow.state) ? flow.state : 'choose_method';
  const off = offState({ uid: signIn.uid, state }, accepted);
  if (off) return off;
  return factor !== undefined && flow.factor !== factor ? { kind: 'wrong_step', uid: signIn.uid } : null;
}

/** A one-statement move of the flow (from one of `from`); who loses a race is told why. */
export async function advance(deps: SignInDeps, signIn: SignIn, from: FlowState[], change: { state: FlowState; method: string | null; factor?: null }): Promise<Outcome> {
  const { signIns } = deps.uow.repos;
  if (await signIns.advance(signIn.uid, from, change, deps.clock.now())) return advanced(signIn, null);
  const state = await signIns.state(signIn.uid);
  if (state === undefined) return EXPIRED;
  return offState({ uid: signIn.uid, state: isFlowState(state) ? state : 'choose_method' }, from) ?? { kind: 'wrong_step', uid: signIn.uid };
}

export function advanced(signIn: SignIn, notice: Notice | null): Outcome {
  return { kind: 'advanced', uid: signIn.uid, notice };
}

export async function refused(deps: SignInDeps, signIn: SignIn, refusal: Refusal, notice: Notice, username?: string, repos: Repos = deps.uow.repos): Promise<Outcome> {
  return { kind: 'refused', refusal, notice: { ...notice, error: true }, shown: await shown(deps, signIn, repos, username) };
}

/** `code`: the sign-in's live code as the step's read found it, for a step that wrote nothing since. */
export async function shown(deps: SignInDeps, signIn: SignIn, repos: Repos, username = '', code?: LiveCode | null): Promise<Shown> {
  return {
    uid: signIn.uid,
    // A guarded sign-in names no account until it is proved: not even to the logs.
    accountId: signIn.state === 'guarded' ? null : (signIn.account?.id ?? null),
    lang: signIn.lang,
    client: signIn.client,
    redirectUri: signIn.redirectUri,
    page: await page(deps, signIn, repos, username, code),
  };
}

export function factorFailure(signIn: SignIn, accountId: string | null, factor: Factor, attempt: Attempt, requester: Who, refused: { notice: Notice; refusal?: string }): AuditEvent[] {
  const detail = { factor: factor.id, reason: refused.notice.key, ...(refused.refusal && { refusal: refused.refusal }) };
  const failed: AuditEvent = { type: 'signin.factor_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail };
  return attempt.locked ? [{ type: 'signin.locked', accountId, ip: requester.ip, detail: { factor: factor.id } }, failed] : [failed];
}

/** Starts the factor the flow just moved to (an emailed code is sent here). */
export async function begin(deps: SignInDeps, r: Repos, signIn: SignIn & { factor: Factor }, requester: Who): Promise<Outcome> {
  const proof = proofOf(signIn.factor, { ...flowContext(r, signIn), asking: asking(signIn, requester) });
  const notice = proof ? await proof.begin() : null;
  // A refused start (the hourly code cap) is said as such: never "sent".
  return notice?.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(signIn, notice);
}
