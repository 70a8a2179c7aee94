/**
 * A passkey added to an account through the factor's own setup (as the portal's "Passkey
 * hozzáadása" does, past its proof), answered by a software authenticator that then holds it.
 */
import type { Deps } from '../../src/deps.ts';
import { SoftwareAuthenticator } from './software-authenticator.ts';

const PASSKEY = 'passkey';

export async function addPasskey(deps: Deps, account: { id: string; username: string; email: string }, authenticator: SoftwareAuthenticator, name = 'Laptop'): Promise<SoftwareAuthenticator> {
  const { enrollments, uow } = deps;
  const who = { ip: '192.0.2.1', lang: 'hu' as const, browser: null };
  const begun = await enrollments.begin(account.id, PASSKEY, 'hu');
  if (!begun.ok) throw new Error('enrollment refused');
  const shown = await enrollments.view(uow.repos, { id: account.id, username: account.username, name: 'Teszt', email: account.email }, begun.enrollmentId, 'hu');
  const created = authenticator.create(JSON.parse(String(shown!.view.data['options'])));
  const confirmed = await enrollments.confirm(account.id, begun.enrollmentId, { credential: JSON.stringify(created), name }, who);
  if (!confirmed.ok) throw new Error('the passkey was not added');
  return authenticator;
}
