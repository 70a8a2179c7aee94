import { sql } from 'kysely';
import type { Db } from '../database.ts';

export class SigningKeysRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async active() {
    return this.#db
      .selectFrom('signing_key')
      .select(['kid', 'alg', 'private_jwk_sealed', 'created_at'])
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
  }

  /**
   * Holds a transaction-scoped lock on the key set until the caller's transaction ends:
   * replicas starting together agree on one set of keys.
   */
  async lock(): Promise<void> {
    if (!this.#db.isTransaction) throw new Error('locking the signing keys takes a transaction');
    await sql`select pg_advisory_xact_lock(hashtext('kapu.signing_key'))`.execute(this.#db);
  }

  async add(key: { kid: string; alg: string; sealed: string; now: Date }): Promise<void> {
    await this.#db.insertInto('signing_key').values({ kid: key.kid, alg: key.alg, private_jwk_sealed: key.sealed, created_at: key.now }).execute();
  }
}
