/**
 * The passkey factor's credentials and challenges. The rules are in the queries, so two
 * replicas racing cannot break them: a challenge is used once (`where used_at is null`, the
 * row count checked) and only while alive and on the flow it was made for; a credential's
 * counter moves only forward from the value the check read (`where counter = …`); a credential
 * id is registered once anywhere.
 *
 * The account "has" the factor (a `factor` row of kind `passkey`, which the portal, the cut-off
 * and the sign-in read) while it has at least one credential.
 */
import type { Db } from '../../db/database.ts';
import type { PasskeyTables } from './schema.ts';

/** The factor's kind in the `factor` table. */
const KIND = 'passkey';

export type ChallengePurpose = 'register' | 'authenticate';
export type UserVerification = 'required' | 'preferred';

export interface NewCredential {
  id: string;
  accountId: string;
  credentialId: string;
  publicKey: string;
  userHandle: string;
  counter: number;
  transports: readonly string[];
  backupEligible: boolean;
  backedUp: boolean;
  aaguid: string;
  name: string;
  now: Date;
}

/** Why a challenge could not be used: none such on this flow, used already, past its time. */
export type ChallengeRefusal = 'challenge_unknown' | 'challenge_used' | 'challenge_expired';

export class PasskeyRepository {
  readonly #db;

  constructor(db: Db) {
    this.#db = db.withTables<PasskeyTables>();
  }

  // ---- credentials

  /** Registers a credential; false when its id is registered already (to anyone). */
  async add(c: NewCredential): Promise<boolean> {
    const inserted = await this.#db
      .insertInto('passkey_credential')
      .values({
        id: c.id,
        account_id: c.accountId,
        credential_id: c.credentialId,
        public_key: c.publicKey,
        user_handle: c.userHandle,
        counter: c.counter,
        transports: c.transports.join(','),
        backup_eligible: c.backupEligible,
        backed_up: c.backedUp,
        aaguid: c.aaguid,
        name: c.name,
        created_at: c.now,
        last_used_at: null,
      })
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return false;
    await this.#db
      .insertInto('factor')
      .values({ id: c.id, account_id: c.accountId, kind: KIND, secret_sealed: null, last_time_step: null, created_at: c.now, last_used_at: null })
      .onConflict((oc) => oc.columns(['account_id', 'kind']).doNothing())
      .execute();
    return true;
  }

  /** The account's passkeys as the portal lists them (no key material). */
  async list(accountId: string) {
    const rows = await this.#db
      .selectFrom('passkey_credential')
      .select(['id', 'name', 'transports', 'backup_eligible', 'backed_up', 'created_at', 'last_used_at'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ ...r, transports: splitTransports(r.transports) }));
  }

  /** What a registration excludes and an assertion allows: the account's credential ids. */
  async descriptors(accountId: string): Promise<Array<{ id: string; transports: string[] }>> {
    const rows = await this.#db.selectFrom('passkey_credential').select(['credential_id', 'transports']).where('account_id', '=', accountId).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.credential_id, transports: splitTransports(r.transports) }));
  }

  /** The user handle the account's passkeys share, if it has any. */
  async userHandle(accountId: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('passkey_credential').select('user_handle').where('account_id', '=', accountId).limit(1).executeTakeFirst();
    return row?.user_handle;
  }

  /** A credential as an assertion is checked against it. */
  async byCredentialId(credentialId: string) {
    const row = await this.#db
      .selectFrom('passkey_credential')
      .select(['id', 'account_id', 'credential_id', 'public_key', 'user_handle', 'counter', 'transports', 'backup_eligible', 'backed_up', 'name'])
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return row && { ...row, counter: Number(row.counter), transports: splitTransports(row.transports) };
  }

  /**
   * A verified assertion: the counter moves from the value the check read to the new one, the
   * backup state is what the authenticator says now. False when another assertion of the same
   * credential came first (its counter is no longer the one read): this one is a replay or a
   * clone, and refused.
   */
  async used(id: string, read: number, counter: number, backedUp: boolean, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('passkey_credential')
      .set({ counter, backed_up: backedUp, last_used_at: now })
      .where('id', '=', id)
      .where('counter', '=', read)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) return false;
    const owner = this.#db.selectFrom('passkey_credential').select('account_id').where('id', '=', id);
    await this.#db.updateTable('factor').set({ last_used_at: now }).where('kind', '=', KIND).where('account_id', '=', owner).execute();
    return true;
  }

  /**
   * Removes one passkey of the account; `left` is how many it still has (with none, the account
   * no longer has the factor). `removed: false` when it was not the account's.
   */
  async remove(accountId: string, id: string): Promise<{ removed: boolean; name: string | null; left: number }> {
    const gone = await this.#db.deleteFrom('passkey_credential').where('id', '=', id).where('account_id', '=', accountId).returning('name').executeTakeFirst();
    const left = await this.count(accountId);
    if (left === 0) await this.#dropFactor(accountId);
    return { removed: gone !== undefined, name: gone?.name ?? null, left };
  }

  /** Removes every passkey of the account and its open challenges; false when it had none. */
  async removeAll(accountId: string): Promise<boolean> {
    const gone = await this.#db.deleteFrom('passkey_credential').where('account_id', '=', accountId).executeTakeFirst();
    await this.#db.deleteFrom('passkey_challenge').where('account_id', '=', accountId).execute();
    const factor = await this.#dropFactor(accountId);
    return gone.numDeletedRows > 0n || factor;
  }

  async count(accountId: string): Promise<number> {
    const row = await this.#db.selectFrom('passkey_credential').select((eb) => eb.fn.countAll<string | number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async #dropFactor(accountId: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('factor').where('account_id', '=', accountId).where('kind', '=', KIND).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // ---- challenges

  /**
   * A new challenge for the flow; an unused one it had for the same purpose is used up at once
   * (a page shows one ceremony at a time, and a flow holds one live challenge).
   */
  async issue(c: { id: string; challenge: string; purpose: ChallengePurpose; flowId: string; accountId: string | null; userVerification: UserVerification; userHandle?: string; now: Date; expiresAt: Date }): Promise<void> {
    await this.#db.updateTable('passkey_challenge').set({ used_at: c.now }).where('flow_id', '=', c.flowId).where('purpose', '=', c.purpose).where('used_at', 'is', null).execute();
    await this.#db
      .insertInto('passkey_challenge')
      .values({ id: c.id, challenge: c.challenge, purpose: c.purpose, flow_id: c.flowId, account_id: c.accountId, user_verification: c.userVerification, user_handle: c.userHandle ?? null, created_at: c.now, expires_at: c.expiresAt, used_at: null })
      .execute();
  }

  /**
   * Uses up the flow's challenge that the browser signed, once: the answer is what it was made
   * for (the account, the user verification asked), or why it cannot be used.
   */
  async consume(c: { flowId: string; challenge: string; purpose: ChallengePurpose; now: Date }): Promise<{ ok: true; accountId: string | null; userVerification: UserVerification; userHandle: string | null } | { ok: false; reason: ChallengeRefusal }> {
    const used = await this.#db
      .updateTable('passkey_challenge')
      .set({ used_at: c.now })
      .where('flow_id', '=', c.flowId)
      .where('challenge', '=', c.challenge)
      .where('purpose', '=', c.purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', c.now)
      .returning(['account_id', 'user_verification', 'user_handle'])
      .executeTakeFirst();
    if (used) return { ok: true, accountId: used.account_id, userVerification: used.user_verification, userHandle: used.user_handle };
    const found = await this.#db
      .selectFrom('passkey_challenge')
      .select(['used_at', 'expires_at'])
      .where('flow_id', '=', c.flowId)
      .where('challenge', '=', c.challenge)
      .where('purpose', '=', c.purpose)
      .executeTakeFirst();
    if (!found) return { ok: false, reason: 'challenge_unknown' };
    return { ok: false, reason: found.used_at ? 'challenge_used' : 'challenge_expired' };
  }

  /** Maintenance: challenges past their time are of no use to anyone. */
  async purgeExpired(before: Date): Promise<number> {
    const result = await this.#db.deleteFrom('passkey_challenge').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function splitTransports(value: string): string[] {
  return value ? value.split(',') : [];
}
