/** The factor step's choice: pick, or switch to, one of the account's factors. */
import type { FlowState } from '../flow.ts';
import type { Outcome } from '../outcomes.ts';
import { EXPIRED, type SignInDeps, load } from './context.ts';
import { begin, firstStop, inState, known, locked } from './guards.ts';
import type { Who } from '../who.ts';

/** Pick (or switch to) one of the account's factors: its proof begins (an emailed code is sent). */
export async function chooseFactor(deps: SignInDeps, uid: string, requester: Who, factorId: unknown): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const factor = signIn.account?.factors.find((f) => f.id === factorId);
  const stop = await firstStop(inState(signIn, CHOOSING), known(factor, 'unknown_factor'));
  if (stop) return stop;
  const chosen = factor!;
  return locked(deps, signIn, CHOOSING, async (r) => {
    await r.signIns.update(uid, { state: 'factor', factor: chosen.id }, deps.clock.now());
    return begin(deps, r, { ...signIn, state: 'factor', factor: chosen }, requester);
  });
}

const CHOOSING: FlowState[] = ['choose_factor', 'factor'];
