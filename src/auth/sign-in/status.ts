/** An out-of-band factor's waiting page asks where its challenge stands: a read, no try. */
import { proofOf } from '../proof.ts';
import { type SignInDeps, type StatusOutcome, flowContext, load } from './context.ts';
import type { Who } from '../who.ts';

/** Where an out-of-band factor's challenge stands, for a waiting page. Costs no try. */
export async function status(deps: SignInDeps, uid: string, requester: Who): Promise<StatusOutcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return { kind: 'expired' };
  const proof = signIn.state === 'factor' ? proofOf(signIn.factor, flowContext(deps.uow.repos, signIn)) : undefined;
  return { kind: 'status', status: proof?.answered === 'out_of_band' ? await proof.status() : 'none' };
}
