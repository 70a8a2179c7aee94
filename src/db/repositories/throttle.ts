import { type RawBuilder, sql } from 'kysely';
import type { Placeholders } from '../prepared.ts';
import type { Db } from '../database.ts';

/** How failures on one key are counted and locked (see src/security/throttle.ts). */
export interface CountRule {
  windowStart: Date;
  freeFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** Failures in a row (never reset by time) that lock the key until `hardLockUntil`. */
  maxConsecutive: number | null;
  hardLockUntil: Date;
}

/** A right answer's bookkeeping: `clear` keys are forgotten, `takeBack` keys lose the attempt they counted. */
export interface Settlement {
  clear: readonly string[];
  takeBack: readonly Counted[];
}

/**
 * A sign-in step's guess to count in the statement that reads the sign-in
 * (SignInsRepository.load), before it is checked, on its principal's key and the address's.
 */
export type StepCount = PasswordCount | FactorCount;

/**
 * A password, counted while the flow is at the password: on the username's key — or, when the
 * username names the account this browser signed in to before, on the browser's own key.
 */
export interface PasswordCount {
  kind: 'password';
  userKey: string;
  device: { accountId: string; key: string } | null;
  rule: CountRule;
  ip: { key: string; rule: CountRule };
  now: Date;
}

/**
 * A second factor's typed answer, counted while the flow is at a factor whose answer is typed
 * (`typed.signIn` after a password, for a factor the account has; `typed.alone` before one): on
 * the account's key (`prefix` and its id), or, with no account yet, on the sign-in's (`flowKey`).
 */
export interface FactorCount {
  kind: 'factor';
  prefix: string;
  flowKey: string;
  typed: { signIn: string[]; alone: string[] };
  rule: CountRule;
  ip: { key: string; rule: CountRule };
  now: Date;
}

/** The key a password guess counts on, for the account (if any) the username names. */
export function principalOf(count: PasswordCount, candidateId: string | null): string {
  return count.device && candidateId === count.device.accountId ? count.device.key : count.userKey;
}

/** A settlement as the values of `settleCtes`. */
export interface SettleValues {
  keys: string[];
  clear: string[];
  back: string[];
  unlock: string[];
  [name: string]: unknown;
}

export function settleValues(settle: Settlement): SettleValues {
  const back = settle.takeBack.map((c) => c.key);
  return { keys: [...settle.clear, ...back], clear: [...settle.clear], back, unlock: settle.takeBack.filter((c) => c.lockedNow).map((c) => c.key) };
}

/**
 * A right answer's bookkeeping (as `settle`) as common table expressions of another statement
 * of the step, which holds `after` (a CTE) locked first: the throttle's rows are locked after
 * it, in key order (its subquery makes them wait for it), whatever `after` found.
 */
export function settleCtes(p: Placeholders<SettleValues>, after: string): RawBuilder<unknown>[] {
  return [
    sql`locked as (
      select key from auth_throttle
      where key = any(${p.keys}::text[]) and (select count(*) from ${sql.table(after)}) >= 0
      order by key for update)`,
    sql`cleared as (
      delete from auth_throttle where key = any(${p.clear}::text[]) and key in (select key from locked))`,
    sql`taken_back as (
      update auth_throttle set failures = greatest(failures - 1, 0), consecutive = greatest(consecutive - 1, 0),
        locked_until = case when key = any(${p.unlock}::text[]) then null else locked_until end
      where key = any(${p.back}::text[]) and key in (select key from locked))`,
  ];
}

/** A key that counted an attempt, and whether that very attempt locked it. */
export interface Counted {
  key: string;
  lockedNow: boolean;
  /** The key's failures in this window, and in a row, this attempt included. */
  failures: number;
  consecutive: number;
}

/**
 * Every statement here that writes several counters takes their rows in one order, by key
 * (`order by key`), and so does every unit of work that takes several in turn (a factor's key,
 * then the address, then a username: ascending). Two steps racing on the same counters (one
 * address shared by many citizens, one username tried from two tabs) then can only wait for
 * each other, never in a circle: no deadlock.
 */
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
   * Counts an attempt on every key before it is checked — one statement, so requests racing
   * each other are counted one by one — and sets the lock each count has earned. A locked key
   * is not counted. Returns the keys that counted; a key missing from it was locked (and the
   * caller takes back what the others counted).
   */
  async admit(keys: Array<{ key: string; rule: CountRule }>, now: Date): Promise<Counted[]> {
    const result = await sql<AdmittedRow>`
      with ${admitCtes(
        keys.map(({ key, rule }) => ({ key: sql`${key}`, rule })),
        now,
        sql`true`,
      )}
      select key, locked_until, failures, consecutive from admitted`.execute(this.#db);
    return countedOf(result.rows, now);
  }

  /**
   * The bookkeeping of a right answer, in one statement: `clear` keys are forgotten (counts
   * and lock), `takeBack` keys lose the attempt this answer counted (and the lock it set).
   * The rows are locked first, in key order; the delete and the update touch only rows the
   * lock has already taken (Postgres runs the parts of one statement in no fixed order).
   */
  async settle(clear: readonly string[], takeBack: readonly Counted[]): Promise<void> {
    const back = takeBack.map((c) => c.key);
    if (clear.length + back.length === 0) return;
    const unlock = takeBack.filter((c) => c.lockedNow).map((c) => c.key);
    const locked = this.#lockInOrder([...clear, ...back]);
    if (back.length === 0) {
      await locked.deleteFrom('auth_throttle').where('key', 'in', (eb) => eb.selectFrom('locked').select('locked.key')).execute();
      return;
    }
    // The CTE only adds a name the update does not use.
    const from =
      clear.length === 0
        ? locked
        : (locked.with('cleared', (db) =>
            db
              .deleteFrom('auth_throttle')
              .where('key', 'in', clear)
              .where('key', 'in', (eb) => eb.selectFrom('locked').select('locked.key')),
          ) as unknown as typeof locked);
    await from
      .updateTable('auth_throttle')
      .set((eb) => ({
        failures: sql`greatest(failures - 1, 0)`,
        consecutive: sql`greatest(consecutive - 1, 0)`,
        ...(unlock.length > 0 && { locked_until: eb.case().when('auth_throttle.key', 'in', unlock).then(null).else(eb.ref('locked_until')).end() }),
      }))
      .where('auth_throttle.key', 'in', back)
      .where('auth_throttle.key', 'in', (eb) => eb.selectFrom('locked').select('locked.key'))
      .execute();
  }

  /** Forgets keys entirely: counts and locks (an operator's unlock, a new password). */
  async clear(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#lockInOrder(keys)
      .deleteFrom('auth_throttle')
      .where('key', 'in', (eb) => eb.selectFrom('locked').select('locked.key'))
      .execute();
  }

  /** `locked`: the rows of `keys` that exist, locked one after the other in key order. */
  #lockInOrder(keys: readonly string[]) {
    return this.#db.with('locked', (db) => db.selectFrom('auth_throttle').select('key').where('key', 'in', [...keys]).orderBy('key').forUpdate());
  }

  /**
   * Counters idle since `before` and not locked. Real accounts' counters with failures in a
   * row are kept (the cap on consecutive failures must not reset with a day of quiet); those of
   * usernames that match no account are not, so spraying made-up names cannot grow the table.
   * A row a sign-in step holds at this moment is skipped (it is not idle), so housekeeping
   * never waits for a step, nor a step for it.
   */
  async deleteStale(before: Date): Promise<number> {
    const result = await this.#db
      .with('stale', (db) =>
        db
          .selectFrom('auth_throttle')
          .select('key')
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
          .forUpdate()
          .skipLocked(),
      )
      .deleteFrom('auth_throttle')
      .where('key', 'in', (eb) => eb.selectFrom('stale').select('stale.key'))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** A row `admitted` returned (from JSON, its time is text). */
export interface AdmittedRow {
  key: string;
  locked_until: Date | string | null;
  failures: number | string;
  consecutive: number | string;
}

export function countedOf(rows: readonly AdmittedRow[], now: Date): Counted[] {
  return rows.map((r) => {
    const until = r.locked_until === null ? null : new Date(r.locked_until);
    return { key: r.key, lockedNow: until !== null && until > now, failures: Number(r.failures), consecutive: Number(r.consecutive) };
  });
}

/**
 * The count of an attempt on `keys` (see `admit`) as common table expressions `rule` and
 * `admitted` of a statement, counted only where `gate` holds. A key is an SQL expression: it may
 * be decided by what the statement read (which account a username names).
 */
export function admitCtes(keys: Array<{ key: RawBuilder<unknown>; rule: CountRule }>, now: Date, gate: RawBuilder<unknown>): RawBuilder<unknown> {
  const rules = sql.join(
    keys.map(
      ({ key, rule: r }) =>
        sql`((${key})::text, ${r.windowStart}::timestamptz, ${r.freeFailures}::int, ${r.baseLockSeconds}::float8, ${r.maxLockSeconds}::float8, ${r.maxConsecutive}::int, ${r.hardLockUntil}::timestamptz)`,
    ),
  );
  // The rule of the key being updated (DO UPDATE sees the proposed row as `excluded`).
  const rule = (column: string): RawBuilder<unknown> => sql`(select ${sql.ref(`r.${column}`)} from rule r where r.key = excluded.key)`;
  // The count restarts when the previous attempt is older than the window; `consecutive`
  // never restarts by time.
  const stale = sql`c.updated_at < ${rule('window_start')}`;
  const failures = sql`(case when ${stale} then 1 else c.failures + 1 end)`;
  const lockSeconds = sql`least(${rule('max_lock')}, ${rule('base')} * power(2, ${failures} - ${rule('free')}))`;
  return sql`rule (key, window_start, free, base, max_lock, max_consecutive, hard_until) as (values ${rules}),
    admitted as (
      insert into auth_throttle as c (key, failures, consecutive, window_start, locked_until, updated_at)
      select key, 1, 1, ${now}, null, ${now} from rule where ${gate} order by key
      on conflict (key) do update set
        failures = ${failures},
        window_start = case when ${stale} then ${now}::timestamptz else c.window_start end,
        consecutive = c.consecutive + 1,
        locked_until = case
          when ${rule('max_consecutive')} is not null and c.consecutive + 1 >= ${rule('max_consecutive')} then ${rule('hard_until')}
          when ${failures} >= ${rule('free')} then ${now}::timestamptz + make_interval(secs => ${lockSeconds})
          else null end,
        updated_at = ${now}
      where c.locked_until is null or c.locked_until <= ${now}
      returning c.key, c.locked_until, c.failures, c.consecutive)`;
}
