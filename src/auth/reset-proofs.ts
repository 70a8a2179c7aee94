/**
 * The proofs a new password asks for (a change in the portal, a forgotten password): the
 * account's factors that prove a reset, their parts of the new-password page, and the rule that
 * any one of them will do.
 */
import type { FactorContext, FactorRegistry, FlowContext, FormFields, Verification, With } from '../factors/factor.ts';

/** A proof a new password asks for: the factor, and its part of the new-password page. */
export interface ProofPart {
  id: string;
  template: string;
  /** Proved by the account's mailbox: the page shows the code mail's munkamenet-azonosító. */
  byMailbox: boolean;
  /** What the part shows, made with the page (its template reads it as `it.factor`). */
  data: Record<string, unknown>;
  /** The part uses kapu's script. */
  scripts: boolean;
}

/**
 * The factors (of the account's `kinds`, or all) that prove a new password, in the order the
 * page asks for them: the mailbox's code first.
 */
export function resetProofs(factors: FactorRegistry, kinds?: readonly string[]): Array<With<'proveReset'>> {
  const all = factors.having('proveReset', kinds ? factors.pick(kinds) : factors.all());
  return [...all.filter((f) => f.proveReset.byMailbox), ...all.filter((f) => !f.proveReset.byMailbox)];
}

/**
 * The proofs' parts of a new-password page, each made with the page: a part that needs data of
 * its own (a challenge bound to `ctx.flowId`) gets it here, one after another in the caller's
 * unit of work. A forgotten password's page passes no account: its parts are the same for any name.
 */
export async function proofParts(proofs: ReadonlyArray<With<'proveReset'>>, ctx: FlowContext): Promise<ProofPart[]> {
  const parts: ProofPart[] = [];
  for (const factor of proofs) {
    const view = await factor.proveReset.view?.(ctx);
    parts.push({ id: factor.id, template: view?.template ?? factor.proveReset.template, byMailbox: factor.proveReset.byMailbox === true, data: view?.data ?? {}, scripts: view?.scripts === true });
  }
  return parts;
}

/** What a new-password form answers to each of `proofs` (undefined: not answered). */
export function answersTo(proofs: ReadonlyArray<With<'proveReset'>>, form: FormFields): Array<{ factor: With<'proveReset'>; input: unknown }> {
  return proofs.map((factor) => ({ factor, input: factor.proveReset.parse(form) }));
}

/** A failed proof for the audit log: the factor (null: none was given) and why, when the factor says. */
export type ProofFailed = (factor: string | null, refusal?: string) => Promise<void>;

/**
 * Any one of the account's proofs proves a new password (with the mailed code or the current
 * password): a citizen who lost the device of one (a phone with the app, a security key) still
 * gets back in with another. The answers given are checked in the page's order until one is
 * right; each wrong one is told to `failed`, and so is an answer that names none at all.
 * `answers` are the account's own proofs (none: nothing to prove, and no call).
 */
export async function proveAnyOne(answers: ReadonlyArray<{ factor: With<'proveReset'>; input: unknown }>, ctx: FactorContext, failed: ProofFailed): Promise<Verification> {
  const given = answers.filter((a) => a.input !== undefined);
  let last: Verification = { ok: false, notice: { key: 'account.proof_missing' } };
  for (const { factor, input } of given) {
    const checked = await factor.proveReset.verify(ctx, input);
    if (checked.ok) return checked;
    await failed(factor.id, checked.refusal);
    last = checked;
  }
  if (given.length === 0) await failed(null);
  return last;
}
