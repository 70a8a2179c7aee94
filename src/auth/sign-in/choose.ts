import type { Outcome } from '../outcomes.ts';
import { EXPIRED, type Requester, type SignInDeps, load } from './context.ts';
import { begin, lock, offState } from './guards.ts';

/** Pick (or switch to) one of the account's factors. */
export async function chooseFactor(deps: SignInDeps, uid: string, requester: Requester, factorId: unknown): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const off = offState(deps, signIn, ['choose_factor', 'factor']);
  if (off) return off;
  const factor = signIn.account?.factors.find((f) => f.id === factorId);
  if (!factor) return { kind: 'bad_request', code: 'unknown_factor' };
  return deps.uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['choose_factor', 'factor']);
    if (elsewhere) return elsewhere;
    await r.signIns.update(uid, { state: 'factor', factor: factor.id }, deps.clock.now());
    return begin(deps, r, { ...signIn, state: 'factor', factor }, requester);
  });
}
