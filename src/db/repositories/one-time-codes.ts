import { timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../database.ts';

export interface CodeRules {
  ttlSeconds: number;
  maxAttempts: number;
  resendSeconds: number;
  maxPerHour: number;
}

export type IssueResult =
  | { ok: true; codeId: string }
  | { ok: false; reason: 'cooldown'; retryAfterSeconds: number }
  | { ok: false; reason: 'cap' }
  | { ok: false; reason: 'exhausted' };

export type CheckResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; attemptsLeft: number }
  | { ok: false; reason: 'superseded' | 'exhausted' | 'expired' | 'none' | 'used' };

/** A code belongs to one flow (interaction or enrollment) and one account, for one purpose. */
export interface CodeScope {
  purpose: string;
  flowId: string;
  accountId: string;
}

/**
 * One-time codes (SPEC §3), with every rule enforced in the query so that replicas racing
 * cannot break them: one live code per flow and account, attempts counted before comparing,
 * single use by `UPDATE … WHERE used_at IS NULL`, cool-down and hourly cap checked under a
 * per-account lock. Every lookup is scoped to the account as well as the flow: a code sent to
 * one account never signs in another, whatever happens to the flow.
 */
export class OneTimeCodesRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** The live code of a flow and account: its tag and when it was sent. */
  async current(scope: CodeScope) {
    return this.#db
      .selectFrom('one_time_code')
      .select(['id', 'tag', 'created_at', 'expires_at', 'attempts'])
      .where('purpose', '=', scope.purpose)
      .where('flow_id', '=', scope.flowId)
      .where('account_id', '=', scope.accountId)
      .where('superseded_at', 'is', null)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Issues a new code for a flow and queues its mail in the same transaction: a code is never
   * live without its mail on the way, and a mail never goes out for a code that was not stored.
   * The new code replaces the flow's live one and inherits its failure count.
   */
  async issue(
    input: { id: string; accountId: string; purpose: string; flowId: string; tag: string; codeHash: string; now: Date; rules: CodeRules },
    queueMail: (trx: Db) => Promise<unknown>,
  ): Promise<IssueResult> {
    const { now, rules } = input;
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${'kapu.otp:' + input.accountId}))`.execute(trx);
      const previous = await trx
        .selectFrom('one_time_code')
        .select(['id', 'created_at', 'attempts'])
        .where('purpose', '=', input.purpose)
        .where('flow_id', '=', input.flowId)
        .where('account_id', '=', input.accountId)
        .where('superseded_at', 'is', null)
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      // The failure count carries over to a new code, so a flow that used up its tries would
      // only get a dead code: refuse instead of spending a mail and a place under the cap.
      if (previous && previous.attempts >= rules.maxAttempts) return { ok: false, reason: 'exhausted' };
      if (previous) {
        const waited = (now.getTime() - previous.created_at.getTime()) / 1000;
        if (waited < rules.resendSeconds) {
          return { ok: false, reason: 'cooldown', retryAfterSeconds: Math.ceil(rules.resendSeconds - waited) };
        }
      }
      const hourAgo = new Date(now.getTime() - 3600_000);
      const sentLastHour = await trx
        .selectFrom('one_time_code')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('account_id', '=', input.accountId)
        .where('purpose', '=', input.purpose)
        .where('created_at', '>', hourAgo)
        .executeTakeFirstOrThrow();
      if (Number(sentLastHour.n) >= rules.maxPerHour) return { ok: false, reason: 'cap' };

      await trx
        .updateTable('one_time_code')
        .set({ superseded_at: now })
        .where('purpose', '=', input.purpose)
        .where('flow_id', '=', input.flowId)
        .where('account_id', '=', input.accountId)
        .where('superseded_at', 'is', null)
        .execute();
      await trx
        .insertInto('one_time_code')
        .values({
          id: input.id,
          account_id: input.accountId,
          purpose: input.purpose,
          flow_id: input.flowId,
          tag: input.tag,
          code_hash: input.codeHash,
          attempts: previous?.attempts ?? 0,
          created_at: now,
          expires_at: new Date(now.getTime() + rules.ttlSeconds * 1000),
        })
        .execute();
      await queueMail(trx);
      return { ok: true, codeId: input.id };
    });
  }

  /**
   * Checks a submitted code against the live code of the flow and account. The attempt is
   * counted first, in the same statement that refuses a dead code, and success is recorded with
   * `used_at IS NULL`: two concurrent submissions of the right code get exactly one `ok`.
   * `codeHashes` are the submitted code's keyed hashes under every configured key (a code
   * issued just before a key rotation still matches).
   */
  async check(input: CodeScope & { codeHashes: string[]; now: Date; maxAttempts: number }): Promise<CheckResult> {
    const { now, maxAttempts } = input;
    const live = await this.current(input);
    if (!live) return (await this.#isSuperseded(input)) ? { ok: false, reason: 'superseded' } : { ok: false, reason: 'none' };

    const counted = await this.#db
      .updateTable('one_time_code')
      .set({ attempts: sql`attempts + 1` })
      .where('id', '=', live.id)
      .where('attempts', '<', maxAttempts)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .returning(['attempts', 'expires_at', 'code_hash'])
      .executeTakeFirst();
    if (!counted) {
      const row = await this.#db.selectFrom('one_time_code').select(['used_at']).where('id', '=', live.id).executeTakeFirst();
      return { ok: false, reason: row?.used_at ? 'used' : 'exhausted' };
    }
    if (counted.expires_at <= now) return { ok: false, reason: 'expired' };
    if (!input.codeHashes.some((h) => sameHash(counted.code_hash, h))) {
      if (await this.#isSuperseded(input)) return { ok: false, reason: 'superseded' };
      const attemptsLeft = maxAttempts - counted.attempts;
      return attemptsLeft > 0 ? { ok: false, reason: 'invalid', attemptsLeft } : { ok: false, reason: 'exhausted' };
    }
    const used = await this.#db
      .updateTable('one_time_code')
      .set({ used_at: now })
      .where('id', '=', live.id)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    return used.numUpdatedRows > 0n ? { ok: true } : { ok: false, reason: 'used' };
  }

  async #isSuperseded(input: CodeScope & { codeHashes: string[] }): Promise<boolean> {
    const row = await this.#db
      .selectFrom('one_time_code')
      .select('id')
      .where('purpose', '=', input.purpose)
      .where('flow_id', '=', input.flowId)
      .where('account_id', '=', input.accountId)
      .where('code_hash', 'in', input.codeHashes)
      .where('superseded_at', 'is not', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async deleteExpired(before: Date): Promise<number> {
    const result = await this.#db.deleteFrom('one_time_code').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
