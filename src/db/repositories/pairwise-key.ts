import type { Db } from '../database.ts';

/** The installation's key for pairwise `sub` values: one row, written once, never replaced. */
export class PairwiseKeyRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Stores `sealed` as the key unless there is one already (replicas starting together: the
   * first insert wins); returns the stored key, whichever that is.
   */
  async ensure(sealed: string, now: Date): Promise<string> {
    await this.#db
      .insertInto('pairwise_key')
      .values({ id: 1, key_sealed: sealed, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const row = await this.#db.selectFrom('pairwise_key').select('key_sealed').where('id', '=', 1).executeTakeFirstOrThrow();
    return row.key_sealed;
  }
}
