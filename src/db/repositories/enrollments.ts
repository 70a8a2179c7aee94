import type { Db } from '../database.ts';
import type { InTransaction } from '../unit-of-work.ts';

/**
 * Factors being set up: what a factor holds between `enroll.begin` and `enroll.confirm`. An
 * enrollment belongs to one account, lives a few minutes, and is confirmed at most once (the
 * conditional update below: two confirmations racing get one `true`).
 */
export class EnrollmentsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async create(enrollment: { id: string; accountId: string; factor: string; secretSealed: string | null; now: Date; expiresAt: Date }): Promise<void> {
    await this.#db
      .insertInto('enrollment')
      .values({
        id: enrollment.id,
        account_id: enrollment.accountId,
        factor: enrollment.factor,
        secret_sealed: enrollment.secretSealed,
        created_at: enrollment.now,
        expires_at: enrollment.expiresAt,
      })
      .execute();
  }

  /**
   * The account's enrollment `id` while it is open (not confirmed, not expired), locked for the
   * rest of the caller's transaction.
   */
  async findOpen(this: InTransaction<EnrollmentsRepository>, id: string, accountId: string, now: Date) {
    return this.#open(id, accountId, now).forUpdate().executeTakeFirst();
  }

  /** The same, unlocked: a look before a unit of work, which reads it again with `findOpen`. */
  async peekOpen(id: string, accountId: string, now: Date) {
    return this.#open(id, accountId, now).executeTakeFirst();
  }

  #open(id: string, accountId: string, now: Date) {
    return this.#db
      .selectFrom('enrollment')
      .select(['id', 'factor', 'secret_sealed', 'expires_at'])
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('confirmed_at', 'is', null)
      .where('expires_at', '>', now);
  }

  /** Was the account's enrollment `id` confirmed (it may have been cleaned up since: then no)? */
  async isConfirmed(id: string, accountId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('enrollment')
      .select('id')
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('confirmed_at', 'is not', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async confirm(id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('enrollment')
      .set({ confirmed_at: now, secret_sealed: null })
      .where('id', '=', id)
      .where('confirmed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Ends the account's open setups of `factor` (their kept secret goes with them): a factor
   * that was removed is not brought back by a setup begun before.
   */
  async closeOpen(accountId: string, factor: string, now: Date): Promise<number> {
    const result = await this.#db
      .updateTable('enrollment')
      .set({ expires_at: now, secret_sealed: null })
      .where('account_id', '=', accountId)
      .where('factor', '=', factor)
      .where('confirmed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('enrollment').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
