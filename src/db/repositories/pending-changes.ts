import type { Db } from '../database.ts';
import type { InTransaction } from '../unit-of-work.ts';

/**
 * Changes that wait for a proof: a new email address (proven by a second factor first, then by
 * a code sent to it) and a password reset (proven by a code to the account's address, and the
 * app's code when the account has the app). Each belongs to one account, lives ten minutes, and
 * is done once; a new address is done only once its second factor has proven it.
 */
export class PendingChangesRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async create(change: { id: string; accountId: string; kind: 'email' | 'reset' | 'setup'; value: string | null; now: Date; expiresAt: Date }): Promise<void> {
    await this.#db
      .insertInto('pending_change')
      .values({ id: change.id, account_id: change.accountId, kind: change.kind, value: change.value, created_at: change.now, expires_at: change.expiresAt })
      .execute();
  }

  /** The open change `id` of this kind, with its account, locked for the caller's transaction. */
  async findOpen(this: InTransaction<PendingChangesRepository>, id: string, kind: 'email' | 'reset' | 'setup', now: Date) {
    return this.#open(id, kind, now).forUpdate().executeTakeFirst();
  }

  /** The same, unlocked: a look before a unit of work, which reads it again with `findOpen`. */
  async peekOpen(id: string, kind: 'email' | 'reset' | 'setup', now: Date) {
    return this.#open(id, kind, now).executeTakeFirst();
  }

  #open(id: string, kind: 'email' | 'reset' | 'setup', now: Date) {
    return this.#db
      .selectFrom('pending_change')
      .select(['id', 'account_id', 'value', 'proof', 'proved_at'])
      .where('id', '=', id)
      .where('kind', '=', kind)
      .where('done_at', 'is', null)
      .where('expires_at', '>', now);
  }

  /** The factor that is to prove the change (chosen, or switched to, while no proof stands). */
  async chooseProof(id: string, factor: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('pending_change')
      .set({ proof: factor })
      .where('id', '=', id)
      .where('done_at', 'is', null)
      .where('expires_at', '>', now)
      .where('proved_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The change is proven, once, by the factor chosen for it (`null`: one that needs no factor's proof). */
  async proved(id: string, factor: string | null, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('pending_change')
      .set({ proved_at: now })
      .where('id', '=', id)
      .where('done_at', 'is', null)
      .where('expires_at', '>', now)
      .where('proved_at', 'is', null)
      .where((eb) => (factor === null ? eb('proof', 'is', null) : eb('proof', '=', factor)))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Done, once, and only once proven (a new address: its second factor came first). */
  async doneProved(id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('pending_change')
      .set({ done_at: now })
      .where('id', '=', id)
      .where('done_at', 'is', null)
      .where('expires_at', '>', now)
      .where('proved_at', 'is not', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async done(id: string, now: Date): Promise<boolean> {
    const result = await this.#db.updateTable('pending_change').set({ done_at: now }).where('id', '=', id).where('done_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('pending_change').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
