import { sql } from 'kysely';
import type { Db } from '../database.ts';

export class FactorsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** The kinds of factor an account has, oldest first. */
  async kinds(accountId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('factor')
      .select('kind')
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => r.kind);
  }

  /** The account's factors with when they were set up and last used, oldest first. */
  async list(accountId: string) {
    return this.#db
      .selectFrom('factor')
      .select(['kind', 'created_at', 'last_used_at'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
  }

  async findSecret(accountId: string, kind: string) {
    return this.#db
      .selectFrom('factor')
      .select(['id', 'secret_sealed', 'last_time_step'])
      .where('account_id', '=', accountId)
      .where('kind', '=', kind)
      .executeTakeFirst();
  }

  /**
   * Adds or replaces the account's factor of this kind (a new phone replaces the old secret).
   * `lastTimeStep`: a TOTP step already used (the code that confirmed the setup).
   * `recoveryHash`: the hash of the factor's törlőkód; replacing a factor replaces it too.
   * True when it replaced one (the row existed: Postgres marks an upsert's updated row with the
   * updating transaction in `xmax`, an inserted one with 0).
   */
  async put(factor: { id: string; accountId: string; kind: string; secretSealed: string | null; lastTimeStep?: number; recoveryHash?: string | null; now: Date }): Promise<boolean> {
    const replaced = {
      id: factor.id,
      secret_sealed: factor.secretSealed,
      last_time_step: factor.lastTimeStep ?? null,
      recovery_hash: factor.recoveryHash ?? null,
      created_at: factor.now,
      last_used_at: null,
    };
    const row = await this.#db
      .insertInto('factor')
      .values({ ...replaced, account_id: factor.accountId, kind: factor.kind })
      .onConflict((oc) => oc.columns(['account_id', 'kind']).doUpdateSet(replaced))
      .returning(sql<boolean>`xmax::text <> '0'`.as('replaced'))
      .executeTakeFirstOrThrow();
    return row.replaced;
  }

  async remove(accountId: string, kind: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('factor').where('account_id', '=', accountId).where('kind', '=', kind).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * TOTP replay guard: records `timeStep` as used only if it is later than any step accepted
   * before. Two replicas racing with the same code: exactly one gets true.
   */
  async acceptTimeStep(factorId: string, timeStep: number, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('factor')
      .set({ last_time_step: timeStep, last_used_at: now })
      .where('id', '=', factorId)
      .where((eb) => eb.or([eb('last_time_step', 'is', null), eb('last_time_step', '<', String(timeStep) as never)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touch(accountId: string, kind: string, now: Date): Promise<void> {
    await this.#db.updateTable('factor').set({ last_used_at: now }).where('account_id', '=', accountId).where('kind', '=', kind).execute();
  }
}
