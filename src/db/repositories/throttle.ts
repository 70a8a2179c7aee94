import { sql } from 'kysely';
import type { Db } from '../database.ts';

export class ThrottleRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** The latest lock among `keys` that is still in force at `now`, if any. */
  async lockedUntil(keys: string[], now: Date): Promise<Date | null> {
    const row = await this.#db
      .selectFrom('auth_throttle')
      .select((eb) => eb.fn.max('locked_until').as('until'))
      .where('key', 'in', keys)
      .where('locked_until', '>', now)
      .executeTakeFirst();
    return row?.until ?? null;
  }

  /**
   * Counts one failure on `key` in a single upsert (replicas racing both count), restarting
   * the window when it has passed. Returns the counts after this failure.
   */
  async fail(key: string, now: Date, windowStart: Date): Promise<{ failures: number; consecutive: number }> {
    return this.#db
      .insertInto('auth_throttle')
      .values({ key, failures: 1, consecutive: 1, window_start: now, locked_until: null, updated_at: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          failures: sql`case when auth_throttle.window_start < ${windowStart} then 1 else auth_throttle.failures + 1 end`,
          window_start: sql`case when auth_throttle.window_start < ${windowStart} then ${now} else auth_throttle.window_start end`,
          consecutive: sql`auth_throttle.consecutive + 1`,
          updated_at: now,
        }),
      )
      .returning(['failures', 'consecutive'])
      .executeTakeFirstOrThrow();
  }

  /** Extends (never shortens) the lock on `key`. */
  async lock(key: string, until: Date, now: Date): Promise<void> {
    await this.#db
      .updateTable('auth_throttle')
      .set({ locked_until: sql`greatest(coalesce(locked_until, ${until}), ${until})`, updated_at: now })
      .where('key', '=', key)
      .execute();
  }

  /** A success clears the key: counts and lock. */
  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('auth_throttle').where('key', '=', key).execute();
  }

  async deleteStale(before: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('auth_throttle')
      .where('updated_at', '<', before)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', before)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
