/**
 * The passkey repository's rules in memory, for the ceremony's unit tests: a challenge is used
 * once, on its own flow, while alive; a counter moves only from the value read. The real
 * queries are checked against a database in test/integration/passkey-repository.test.ts.
 */
import type { PasskeyStore } from '../../src/factors/passkey/ceremony.ts';
import type { NewCredential } from '../../src/factors/passkey/repository.ts';

type Issued = Parameters<PasskeyStore['issue']>[0] & { usedAt: Date | null };

export class MemoryPasskeyStore implements PasskeyStore {
  readonly challenges: Issued[] = [];
  readonly credentials: Array<NewCredential & { lastUsedAt: Date | null }> = [];

  async issue(c: Parameters<PasskeyStore['issue']>[0]): Promise<void> {
    for (const old of this.challenges) if (old.flowId === c.flowId && old.purpose === c.purpose && !old.usedAt) old.usedAt = c.now;
    this.challenges.push({ ...c, usedAt: null });
  }

  async consume(c: Parameters<PasskeyStore['consume']>[0]): ReturnType<PasskeyStore['consume']> {
    const found = this.challenges.find((x) => x.flowId === c.flowId && x.challenge === c.challenge && x.purpose === c.purpose);
    if (!found) return { ok: false, reason: 'challenge_unknown' };
    if (found.usedAt) return { ok: false, reason: 'challenge_used' };
    if (found.expiresAt <= c.now) return { ok: false, reason: 'challenge_expired' };
    found.usedAt = c.now;
    return { ok: true, accountId: found.accountId, userVerification: found.userVerification, userHandle: found.userHandle ?? null };
  }

  async descriptors(accountId: string) {
    return this.credentials.filter((x) => x.accountId === accountId).map((x) => ({ id: x.credentialId, transports: [...x.transports] }));
  }

  async userHandle(accountId: string) {
    return this.credentials.find((x) => x.accountId === accountId)?.userHandle;
  }

  async add(c: NewCredential): Promise<boolean> {
    if (this.credentials.some((x) => x.credentialId === c.credentialId)) return false;
    this.credentials.push({ ...c, lastUsedAt: null });
    return true;
  }

  async byCredentialId(credentialId: string) {
    const x = this.credentials.find((y) => y.credentialId === credentialId);
    return (
      x && {
        id: x.id,
        account_id: x.accountId,
        credential_id: x.credentialId,
        public_key: x.publicKey,
        user_handle: x.userHandle,
        counter: x.counter,
        transports: [...x.transports],
        backup_eligible: x.backupEligible,
        backed_up: x.backedUp,
        name: x.name,
      }
    );
  }

  async used(id: string, read: number, counter: number, backedUp: boolean, now: Date): Promise<boolean> {
    const x = this.credentials.find((y) => y.id === id);
    if (!x || x.counter !== read) return false;
    Object.assign(x, { counter, backedUp, lastUsedAt: now });
    return true;
  }
}
