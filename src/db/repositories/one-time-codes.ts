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
  | { ok: true }
  | { ok: false; reason: 'cooldown'; retryAfterSeconds: number }
  | { ok: false; reason: 'cap' }
  | { ok: false; reason: 'exhausted' };

export type CheckResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; attemptsLeft: number }
  | { ok: false; reason: 'superseded' | 'exhausted' | 'expired' | 'none' | 'used' };

/**
 * What a code proves: a sign-in, a factor being set up, a forgotten password, a new address (to
 * it), and a change that moves a factor (to the current address, before the change is made).
 */
export type CodePurpose = 'signin' | 'enroll' | 'reset' | 'email_change' | 'change';

/** A code belongs to one flow (interaction or enrollment) and one account, for one purpose. */
export interface CodeScope {
  purpose: CodePurpose;
  flowId: string;
  accountId: string;
}

/**
 * One-time codes (SPEC §3), with every rule enforced in the queries so that replicas racing
 * cannot break them: one live code per flow and account, the attempt counted before the
 * comparison, single use by `UPDATE … WHERE used_at IS NULL`, cool-down and hourly cap decided
 * under a per-account lock. Every lookup is scoped to the account as well as the flow: a code
 * sent to one account never signs in another, whatever happens to the flow.
 */
export class OneTimeCodesRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** The live code of a flow and account: its tag, when it was sent, how it stands. */
  async live(scope: CodeScope) {
    return this.#live(scope).select(['id', 'tag', 'created_at', 'expires_at', 'attempts']).executeTakeFirst();
  }

  /**
   * Issues a new code for a flow; it replaces the flow's live one and inherits its failure
   * count. Runs inside the caller's unit of work, which queues the code's mail in the same
   * transaction: a code is never live without its mail on the way, and no mail goes out for a
   * code that was not stored.
   */
  async issue(input: CodeScope & { id: string; tag: string; codeHash: string; now: Date; rules: CodeRules }): Promise<IssueResult> {
    if (!this.#db.isTransaction) throw new Error('issuing a code takes a transaction (it decides the cap under a lock)');
    const { now, rules } = input;
    await sql`select pg_advisory_xact_lock(hashtext(${'kapu.otp:' + input.accountId}))`.execute(this.#db);
    const hourAgo = new Date(now.getTime() - 3600_000);
    const standing = await this.#db
      .selectNoFrom((eb) => [
        this.#live(input).select('created_at').as('previous_at'),
        this.#live(input).select('attempts').as('previous_attempts'),
        eb
          .selectFrom('one_time_code')
          .select((e) => e.fn.countAll<string>().as('n'))
          .where('account_id', '=', input.accountId)
          .where('purpose', '=', input.purpose)
          .where('created_at', '>', hourAgo)
          .as('sent_last_hour'),
      ])
      .executeTakeFirstOrThrow();
    const previousAttempts = standing.previous_attempts ?? 0;
    // The failure count carries over to a new code, so a flow that used up its tries would
    // only get a dead code: refuse instead of spending a mail and a place under the cap.
    if (previousAttempts >= rules.maxAttempts) return { ok: false, reason: 'exhausted' };
    if (standing.previous_at) {
      const waited = (now.getTime() - standing.previous_at.getTime()) / 1000;
      if (waited < rules.resendSeconds) return { ok: false, reason: 'cooldown', retryAfterSeconds: Math.ceil(rules.resendSeconds - waited) };
    }
    if (Number(standing.sent_last_hour) >= rules.maxPerHour) return { ok: false, reason: 'cap' };

    await this.#db
      .with('superseded', (db) =>
        db
          .updateTable('one_time_code')
          .set({ superseded_at: now })
          .where('purpose', '=', input.purpose)
          .where('flow_id', '=', input.flowId)
          .where('account_id', '=', input.accountId)
          .where('superseded_at', 'is', null),
      )
      .insertInto('one_time_code')
      .values({
        id: input.id,
        account_id: input.accountId,
        purpose: input.purpose,
        flow_id: input.flowId,
        tag: input.tag,
        code_hash: input.codeHash,
        attempts: previousAttempts,
        created_at: now,
        expires_at: new Date(now.getTime() + rules.ttlSeconds * 1000),
      })
      .execute();
    return { ok: true };
  }

  /**
   * Checks a submitted code against the live code of the flow and account. The attempt is
   * counted first, in the statement that refuses a dead code, and success is recorded with
   * `used_at IS NULL`: two concurrent submissions of the right code get exactly one `ok`.
   * `codeHashes` are the submitted code's keyed hashes under every configured key (a code
   * issued just before a key rotation still matches).
   */
  async check(input: CodeScope & { codeHashes: string[]; now: Date; maxAttempts: number }): Promise<CheckResult> {
    const { now, maxAttempts } = input;
    const counted = await this.#db
      .updateTable('one_time_code')
      .set({ attempts: sql`attempts + 1` })
      .where('id', '=', this.#live(input).select('id'))
      .where('attempts', '<', maxAttempts)
      .where('used_at', 'is', null)
      .returning(['id', 'attempts', 'expires_at', 'code_hash'])
      .executeTakeFirst();
    if (!counted) return this.#whyNot(input);
    if (counted.expires_at <= now) return { ok: false, reason: 'expired' };
    if (!input.codeHashes.some((h) => sameHash(counted.code_hash, h))) {
      if (await this.#isSuperseded(input)) return { ok: false, reason: 'superseded' };
      const attemptsLeft = maxAttempts - counted.attempts;
      return attemptsLeft > 0 ? { ok: false, reason: 'invalid', attemptsLeft } : { ok: false, reason: 'exhausted' };
    }
    const used = await this.#db
      .updateTable('one_time_code')
      .set({ used_at: now })
      .where('id', '=', counted.id)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    return used.numUpdatedRows > 0n ? { ok: true } : { ok: false, reason: 'used' };
  }

  /** Ends the account's live codes for these purposes at once (what they proved is gone). */
  async expireLive(accountId: string, purposes: CodePurpose[], now: Date): Promise<number> {
    const result = await this.#db
      .updateTable('one_time_code')
      .set({ expires_at: now })
      .where('account_id', '=', accountId)
      .where('purpose', 'in', purposes)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteExpired(before: Date): Promise<number> {
    const result = await this.#db.deleteFrom('one_time_code').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #live(scope: CodeScope) {
    return this.#db
      .selectFrom('one_time_code')
      .where('purpose', '=', scope.purpose)
      .where('flow_id', '=', scope.flowId)
      .where('account_id', '=', scope.accountId)
      .where('superseded_at', 'is', null)
      .orderBy('created_at', 'desc')
      .limit(1);
  }

  /** Why no attempt could be counted: nothing live, the tries used up, or already used. */
  async #whyNot(input: CodeScope & { codeHashes: string[] }): Promise<CheckResult> {
    const live = await this.#live(input).select(['used_at']).executeTakeFirst();
    if (live) return { ok: false, reason: live.used_at ? 'used' : 'exhausted' };
    return { ok: false, reason: (await this.#isSuperseded(input)) ? 'superseded' : 'none' };
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
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
