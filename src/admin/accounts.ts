/** Account administration shared by the CLI and the demo seed. */
import type { Repos } from '../db/repositories/index.ts';
import type { Deps } from '../deps.ts';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.ts';
import { z } from 'zod';
import { DEFAULT_LANG } from '../views.ts';

/**
 * Characters that change how text shows without showing themselves: control characters (Cc),
 * format characters (Cf: bidirectional embeddings, overrides and isolates, zero-width spaces and
 * joiners, soft hyphen, BOM), line and paragraph separators.
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

export const NewAccountInput = z.object({
  username: z
    .string()
    .trim()
    .min(3, 'username must be 3–64 characters')
    .max(64, 'username must be 3–64 characters')
    .regex(/^[\p{L}\p{N}._@-]+$/u, 'username may contain letters, digits and . _ @ - only'),
  name: z
    .string()
    .trim()
    .min(1, 'name is required')
    .max(200, 'name must be at most 200 characters')
    // Names go into mails, pages and ID tokens: no control characters or line breaks, and no
    // invisible formatting characters (bidirectional overrides could show "Kovács Anna" for a
    // name that reads otherwise; zero-width characters make look-alike names).
    .refine((name) => !INVISIBLE.test(name), 'name must not contain control characters, line breaks or invisible formatting characters (e.g. bidirectional overrides)'),
  email: z.email('email must be an email address').max(254),
  password: z
    .string()
    .min(8, 'password must be at least 8 characters')
    .max(PASSWORD_MAX_LENGTH, `password must be at most ${PASSWORD_MAX_LENGTH} characters`),
});
export type NewAccountInput = z.input<typeof NewAccountInput>;

export class AdminError extends Error {
  override name = 'AdminError';
}

export async function createAccount(deps: Deps, input: NewAccountInput) {
  const parsed = NewAccountInput.safeParse(input);
  if (!parsed.success) throw new AdminError(parsed.error.issues[0]!.message);
  const { username, name, email, password } = parsed.data;
  const now = deps.clock.now();
  const passwordHash = await deps.passwords.hash(password);
  const created = await deps.uow.transaction(async (r) => {
    const account = await r.accounts.create({ id: deps.random.uuid(), username, name, email, passwordHash, now });
    if (account) await r.audit.record({ type: 'account.created', accountId: account.id }, now);
    return account;
  });
  if (!created) throw new AdminError(`username "${username}" is taken`);
  return created;
}

/** Gives an account a second factor as an operator (no confirmation round-trip). */
export async function addFactor(deps: Deps, username: string, factorId: string) {
  const account = await deps.repos.accounts.findByUsername(username);
  if (!account) throw new AdminError(`no account "${username}"`);
  const factor = deps.factors.get(factorId);
  if (!factor) throw new AdminError(`unknown factor "${factorId}"`);
  if (!factor.operatorEnroll) throw new AdminError(`factor "${factorId}" cannot be given by an operator: the citizen sets it up in the account portal`);
  const { operatorEnroll } = factor;
  const result = await deps.uow.transaction(async (repos) => {
    const enrolled = await operatorEnroll.enroll({ flowId: account.id, account, lang: DEFAULT_LANG, repos });
    await repos.audit.record({ type: 'factor.enrolled', accountId: account.id, detail: { factor: factorId, by: 'operator' } }, deps.clock.now());
    return enrolled;
  });
  return { account, ...result };
}

async function accountNamed(deps: Deps, username: string) {
  const account = await deps.repos.accounts.findByUsername(username);
  if (!account) throw new AdminError(`no account "${username}"`);
  return account;
}

/**
 * Everything that lets an account act now ends at once: its sessions at kapu and at the portal,
 * its grants and tokens at every RP, its sign-ins in progress.
 */
async function endEverything(r: Repos, accountId: string): Promise<number> {
  const ended = await r.payloads.revokeByAccountId(accountId);
  await r.portalSessions.removeForAccount(accountId);
  await r.signIns.removeForAccount(accountId);
  return ended;
}

/** A disabled account cannot sign in anywhere; its sessions and tokens end at once. */
export async function disableAccount(deps: Deps, username: string): Promise<{ changed: boolean; ended: number }> {
  const account = await accountNamed(deps, username);
  const now = deps.clock.now();
  return deps.uow.transaction(async (r) => {
    const changed = await r.accounts.setDisabled(account.id, now, now);
    // Even when it already was disabled: whatever exists now ends.
    const ended = await endEverything(r, account.id);
    if (changed) await r.audit.record({ type: 'account.disabled', accountId: account.id, detail: { by: 'operator' } }, now);
    return { changed, ended };
  });
}

export async function enableAccount(deps: Deps, username: string): Promise<{ changed: boolean }> {
  const account = await accountNamed(deps, username);
  const now = deps.clock.now();
  return deps.uow.transaction(async (r) => {
    const changed = await r.accounts.setDisabled(account.id, null, now);
    if (changed) await r.audit.record({ type: 'account.enabled', accountId: account.id, detail: { by: 'operator' } }, now);
    return { changed };
  });
}

/**
 * Sets a new password as an operator (a support-desk reset): like the citizen's own change, every
 * session and token of the account ends, and the sign-in locks of the username are lifted.
 */
export async function setPassword(deps: Deps, username: string, password: string): Promise<void> {
  const checked = NewAccountInput.shape.password.safeParse(password);
  if (!checked.success) throw new AdminError(checked.error.issues[0]!.message);
  const account = await accountNamed(deps, username);
  const hash = await deps.passwords.hash(password);
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    await r.accounts.updatePasswordHash(account.id, hash, now);
    await endEverything(r, account.id);
    // "Jelszó módosítva" in the citizen's own event list at the portal.
    await r.audit.record({ type: 'password.changed', accountId: account.id, detail: { by: 'operator' } }, now);
  });
  await deps.throttle.unlock(deps.repos.throttle, account.username, account.id);
}

/**
 * Removes one second factor of an account (the phone was lost, the address is gone) the way the
 * citizen's own removal does: through the factor, with all it owns (a phone's devices too).
 */
export async function removeFactor(deps: Deps, username: string, kind: string): Promise<void> {
  const account = await accountNamed(deps, username);
  await deps.uow.transaction(async (r) => {
    if (!(await deps.enrollments.remove(r, account, kind, DEFAULT_LANG, 'operator'))) throw new AdminError(`${username} has no factor "${kind}"`);
  });
}

/**
 * Removes an account with everything it has (factors, codes, flows, sessions, grants, tokens);
 * the audit trail stays, with an event saying who it was.
 */
export async function removeAccount(deps: Deps, username: string): Promise<void> {
  const account = await accountNamed(deps, username);
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    await endEverything(r, account.id);
    if (!(await r.accounts.remove(account.id))) throw new AdminError(`no account "${username}"`);
    await r.audit.record({ type: 'account.removed', accountId: account.id, detail: { username: account.username, by: 'operator' } }, now);
  });
}
