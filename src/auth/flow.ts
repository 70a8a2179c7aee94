/**
 * A sign-in flow's states, a closed set (the database holds it by a CHECK constraint; a test
 * keeps the two in step):
 *
 *   choose_method ⇄ password → done                 (password only, while allowed)
 *                             → factor ⇄ choose_factor → done
 *                             → upgrade → enroll → done   (no second factor where one is needed:
 *                                                          set one up right there)
 *                             → guarded → done            (strangers' failures locked the username:
 *                                                          the password and the chosen second
 *                                                          factor, proved together, still get in)
 *
 * A flow signs in at an RP (kind 'rp', behind an oidc-provider interaction) or at kapu's own
 * account portal (kind 'portal', ending in a portal session).
 * A flow's row exists from the first view of its interaction; every step names the states it
 * accepts, and runs with the row locked (or as one conditional update), so a stale or replayed
 * form can neither skip a step nor interleave with another.
 */
export const FLOW_STATES = ['choose_method', 'password', 'choose_factor', 'factor', 'guarded', 'upgrade', 'enroll', 'done'] as const;

export type FlowState = (typeof FLOW_STATES)[number];

export function isFlowState(value: string): value is FlowState {
  return (FLOW_STATES as readonly string[]).includes(value);
}

/** The method that signs in with the password alone ("Ügyfélkapuval"), while allowed. */
export const LEGACY_METHOD = 'legacy';
