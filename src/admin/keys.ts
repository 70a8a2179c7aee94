/**
 * Encryption key rotation: put the new key first in ENCRYPTION_KEYS (keeping the old ones),
 * restart, then re-seal everything still sealed with an older key. Afterwards the old keys
 * can be removed from ENCRYPTION_KEYS.
 */
import type { Deps } from '../deps.ts';

export async function reencrypt(deps: Deps): Promise<{ resealed: number; current: number }> {
  const repo = deps.repos.sealed;
  let resealed = 0;
  let current = 0;
  for (const value of await repo.all()) {
    if (!deps.box.isStale(value.sealed)) {
      current += 1;
      continue;
    }
    const plain = deps.box.open(value.sealed, value.aad);
    // A concurrent writer (e.g. a new phone's secret) wins; its value is already current.
    if (await repo.replace(value, deps.box.seal(plain, value.aad))) resealed += 1;
  }
  return { resealed, current };
}
