/**
 * A sign-in's proof, bound to its context: the factor's `signIn` proof once the account is known
 * (after a password), its `passwordless` proof before (chosen on the method chooser). The steps
 * call `begin`, `view`, `verify` or `collect` without asking which factor or which case it is.
 */
import type { ChallengeStatus, Collected, Factor, FactorView, FlowContext, Notice, OutOfBandProof, TypedProof, Verification } from '../factors/factor.ts';

interface Steps {
  begin(): Promise<Notice | null>;
  resend?(): Promise<Notice>;
  view(): Promise<FactorView>;
}

export type BoundProof = (Steps & { answered: 'typed'; lockFree?: true; verify(input: unknown): Promise<Verification> }) | (Steps & { answered: 'out_of_band'; status(): Promise<ChallengeStatus>; collect(): Promise<Collected> });

/**
 * The proof `factor` offers in `ctx`: with an account, its sign-in proof; without one, its
 * passwordless proof. Undefined when it offers none there.
 */
export function proofOf(factor: Factor | undefined, ctx: FlowContext): BoundProof | undefined {
  if (!factor) return undefined;
  const { account } = ctx;
  if (account) return factor.signIn && bind<{ account: typeof account } & FlowContext>(factor.signIn, { ...ctx, account });
  return factor.passwordless && bind(factor.passwordless, ctx);
}

function bind<C>(proof: TypedProof<unknown, C> | OutOfBandProof<C>, ctx: C): BoundProof {
  const steps: Steps = {
    begin: () => proof.begin(ctx),
    view: () => proof.view(ctx),
    ...(proof.resend && { resend: () => proof.resend!(ctx) }),
  };
  if (proof.answered === 'typed') return { ...steps, answered: 'typed', ...(proof.lockFree && { lockFree: true }), verify: (input) => proof.verify(ctx, input) };
  return { ...steps, answered: 'out_of_band', status: () => proof.status(ctx), collect: () => proof.collect(ctx) };
}
