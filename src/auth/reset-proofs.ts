/**
 * The proofs a new password asks for (a change in the portal, a forgotten password): the
 * account's factors that prove a reset, and their parts of the new-password page.
 */
import type { FactorRegistry, With } from '../factors/factor.ts';

/** A proof a new password asks for: the factor, and its part of the new-password page. */
export interface ProofPart {
  id: string;
  template: string;
  /** Proved by the account's mailbox: the page shows the code mail's munkamenet-azonosító. */
  byMailbox: boolean;
}

/**
 * The factors (of the account's `kinds`, or all) that prove a new password, in the order the
 * page asks for them: the mailbox's code first.
 */
export function resetProofs(factors: FactorRegistry, kinds?: readonly string[]): Array<With<'proveReset'>> {
  const all = factors.having('proveReset', kinds ? factors.pick(kinds) : factors.all());
  return [...all.filter((f) => f.proveReset.byMailbox), ...all.filter((f) => !f.proveReset.byMailbox)];
}

export function proofPart(factor: With<'proveReset'>): ProofPart {
  return { id: factor.id, template: factor.proveReset.template, byMailbox: factor.proveReset.byMailbox === true };
}
