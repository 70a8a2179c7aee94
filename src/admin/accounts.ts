/** Account administration shared by the CLI and the demo seed. */
import type { Deps } from '../deps.ts';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.ts';
import { z } from 'zod';
import { DEFAULT_LANG } from '../views.ts';

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
    // Names go into mails and ID tokens: no control characters or line breaks.
    .regex(/^[^\p{Cc}]*$/u, 'name must not contain control characters or line breaks'),
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
  const result = await deps.uow.transaction(async (repos) => {
    const enrolled = await factor.enrollByOperator({ flowId: account.id, account, lang: DEFAULT_LANG, repos });
    await repos.audit.record({ type: 'factor.enrolled', accountId: account.id, detail: { factor: factorId, by: 'operator' } }, deps.clock.now());
    return enrolled;
  });
  return { account, ...result };
}
