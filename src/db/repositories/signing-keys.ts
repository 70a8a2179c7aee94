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
   * Runs `generate` only if no active key exists for one of `algs`, under a transaction-scoped
   * advisory lock: replicas starting together agree on one set of keys.
   */
  async ensure(algs: string[], generate: (alg: string) => Promise<{ kid: string; sealed: string }>, now: Date): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('kapu.signing_key'))`.execute(trx);
      const present = await trx.selectFrom('signing_key').select('alg').where('retired_at', 'is', null).execute();
      for (const alg of algs) {
        if (present.some((k) => k.alg === alg)) continue;
        const { kid, sealed } = await generate(alg);
        await trx.insertInto('signing_key').values({ kid, alg, private_jwk_sealed: sealed, created_at: now }).execute();
      }
    });
  }
}
