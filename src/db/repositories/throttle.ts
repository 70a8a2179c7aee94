import { sql } from 'kysely';
import type { Db } from '../database.ts';

export interface CountRule {
  windowStart: Date;
  freeFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** Failures in a row (never reset by time) that lock the key until `hardLockUntil`. */
  maxConsecutive: number | null;
  hardLockUntil: Date;
}

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
   * Counts an attempt on `key` before it is checked — one statement, so requests racing each
   * other are counted one by one — and sets the lock the count has earned. A key that is locked
   * is not counted: the result is undefined and the attempt must be refused unchecked.
   */
  async admit(key: string, now: Date, rule: CountRule): Promise<{ lockedNow: boolean } | undefined> {
    // The count restarts when the previous attempt is older than the window; `consecutive`
    // never restarts by time.
    const failures = sql<number>`(case when auth_throttle.updated_at < ${rule.windowStart} then 1 else auth_throttle.failures + 1 end)`;
    const lockSeconds = sql<number>`least(${rule.maxLockSeconds}::float8, ${rule.baseLockSeconds}::float8 * power(2, ${failures} - ${rule.freeFailures}))`;
    const row = await this.#db
      .insertInto('auth_throttle')
      .values({ key, failures: 1, consecutive: 1, window_start: now, locked_until: null, updated_at: now })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({
            failures,
            window_start: sql`case when auth_throttle.updated_at < ${rule.windowStart} then ${now}::timestamptz else auth_throttle.window_start end`,
            consecutive: sql`auth_throttle.consecutive + 1`,
            locked_until: sql`case
              when ${rule.maxConsecutive}::int is not null and auth_throttle.consecutive + 1 >= ${rule.maxConsecutive}::int then ${rule.hardLockUntil}::timestamptz
              when ${failures} >= ${rule.freeFailures} then ${now}::timestamptz + make_interval(secs => ${lockSeconds})
              else null end`,
            updated_at: now,
          })
          .where((eb) => eb.or([eb('auth_throttle.locked_until', 'is', null), eb('auth_throttle.locked_until', '<=', now)])),
      )
      .returning(['locked_until'])
      .executeTakeFirst();
    return row && { lockedNow: row.locked_until !== null && row.locked_until > now };
  }

  /** Takes back an attempt that turned out not to be a failure (and the lock it set, if any). */
  async release(key: string, lockedNow: boolean): Promise<void> {
    await this.#db
      .updateTable('auth_throttle')
      .set({
        failures: sql`greatest(failures - 1, 0)`,
        consecutive: sql`greatest(consecutive - 1, 0)`,
        ...(lockedNow && { locked_until: null }),
      })
      .where('key', '=', key)
      .execute();
    // Back to nothing: leave no trace of an attempt that did not count.
    await this.#db
      .deleteFrom('auth_throttle')
      .where('key', '=', key)
      .where('failures', '=', 0)
      .where('consecutive', '=', 0)
      .where('locked_until', 'is', null)
      .execute();
  }

  /** A finished sign-in clears the key: counts and lock. */
  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('auth_throttle').where('key', '=', key).execute();
  }

  /**
   * Counters idle since `before` and not locked. Real accounts' counters with failures in a
   * row are kept (the cap on consecutive failures must not reset with a day of quiet); those of
   * usernames that match no account are not, so spraying made-up names cannot grow the table.
   */
  async deleteStale(before: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('auth_throttle')
      .where('updated_at', '<', before)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', before)]))
      .where((eb) =>
        eb.or([
          eb('consecutive', '=', 0),
          eb('key', 'like', 'ip:%'),
          eb.and([
            eb('key', 'like', 'user:%'),
            eb.not(eb.exists(eb.selectFrom('account').select('account.id').where(sql<boolean>`'user:' || account.username = auth_throttle.key`))),
          ]),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
