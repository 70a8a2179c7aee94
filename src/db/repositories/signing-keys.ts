import { sql } from 'kysely';
import { notifyChange } from '../change-feed.ts';
import type { Db } from '../database.ts';
import type { InTransaction } from '../unit-of-work.ts';

/** What replicas are told when the key set changes (a rotation): they reload it. */
export const SIGNING_KEYS_CHANGE = { kind: 'signing_key', id: 'all' } as const;

export class SigningKeysRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** Keys not yet retired, newest first, with their sealed private part. */
  async active() {
    return this.#db
      .selectFrom('signing_key')
      .select(['kid', 'alg', 'private_jwk_sealed', 'created_at', 'signs_from', 'retired_at'])
      .where('retired_at', 'is', null)
      .orderBy('signs_from', 'desc')
      .orderBy('created_at', 'desc')
      .execute();
  }

  /** Every key ever made (for `keys list`), never the private part. */
  async all() {
    return this.#db
      .selectFrom('signing_key')
      .select(['kid', 'alg', 'created_at', 'signs_from', 'retired_at'])
      .orderBy('signs_from', 'desc')
      .orderBy('created_at', 'desc')
      .execute();
  }

  /**
   * Holds a transaction-scoped lock on the key set until the caller's transaction ends:
   * replicas starting together agree on one set of keys; two rotations never race.
   */
  async lock(this: InTransaction<SigningKeysRepository>): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext('kapu.signing_key'))`.execute(this.#db);
  }

  /** Adds a key; every replica hears of it once the transaction commits. */
  async add(key: { kid: string; alg: string; sealed: string; now: Date; signsFrom: Date }): Promise<void> {
    await this.#db
      .insertInto('signing_key')
      .values({ kid: key.kid, alg: key.alg, private_jwk_sealed: key.sealed, created_at: key.now, signs_from: key.signsFrom })
      .execute();
    await notifyChange(this.#db, SIGNING_KEYS_CHANGE);
  }
}
