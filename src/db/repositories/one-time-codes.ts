import { timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { issueCode, liveLocking, lockAccount, lockKey } from './one-time-code-statements.ts';
import type { AuditEvent, AuditRepository } from './audit.ts';
import type { MailOutboxRepository } from './mail-outbox.ts';

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
  | { ok: true; id?: string }
  | { ok: false; reason: 'invalid'; attemptsLeft: number }
  | { ok: false; reason: 'superseded' | 'exhausted' | 'expired' | 'none' | 'used' };

/** A flow's live code as `live` reads it. */
export type LiveCode = NonNullable<Awaited<ReturnType<OneTimeCodesRepository['live']>>>;

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
  /** Told of the mail and the audit event an issued code's statement wrote. */
  readonly #told: { audit: Pick<AuditRepository, 'announce'>; outbox: Pick<MailOutboxRepository, 'announce'> } | undefined;

  constructor(db: Db, told?: { audit: Pick<AuditRepository, 'announce'>; outbox: Pick<MailOutboxRepository, 'announce'> }) {
    this.#db = db;
    this.#told = told;
  }

  /** The live code of a flow and account: its tag, when it was sent, how it stands. */
  async live(scope: CodeScope) {
    return this.#live(scope).select(['id', 'tag', 'created_at', 'expires_at', 'attempts']).executeTakeFirst();
  }

  /**
   * The live code of a flow and account, read with the account's code lock taken for the rest of
   * the caller's unit of work, as `issue` takes it: a step that may issue a code next reads and
   * locks in one statement (and tells `issue` the lock is held). The live code itself is the
   * flow's, which the step holds locked.
   */
  async liveLocking(scope: CodeScope): Promise<LiveCode | undefined> {
    if (!this.#db.isTransaction) throw new Error('the code lock is taken inside a unit of work');
    const row = (await liveLocking.execute(this.#db, { key: lockKey(scope.accountId), purpose: scope.purpose, flowId: scope.flowId, accountId: scope.accountId })).rows[0];
    return row?.id ? { id: row.id, tag: row.tag!, created_at: new Date(row.created_at!), expires_at: new Date(row.expires_at!), attempts: Number(row.attempts) } : undefined;
  }

  /**
   * Issues a new code for a flow; it replaces the flow's live one and inherits its failure
   * count. Runs inside the caller's unit of work: the cool-down and the hourly cap are decided
   * under a per-account lock (its own statement, so that what is read after it is what the lock
   * guards), then one statement checks them and, where they allow it, stores the code with its
   * mail in the outbox and its audit event: a code is never live without its mail on the way,
   * and no mail goes out for a code that was not stored.
   */
  async issue(input: CodeScope & { id: string; tag: string; codeHash: string; now: Date; rules: CodeRules; mail: { recipient: string; messageSealed: string }; event: AuditEvent; locked?: boolean }): Promise<IssueResult> {
    if (!this.#db.isTransaction) throw new Error('issuing a code takes a transaction (it decides the cap under a lock)');
    const { now, rules, event } = input;
    // `locked`: the caller took the lock already (liveLocking), in this unit of work.
    if (!input.locked) await lockAccount.execute(this.#db, { key: lockKey(input.accountId) });
    const { rows } = await issueCode.execute(this.#db, {
      purpose: input.purpose,
      flowId: input.flowId,
      accountId: input.accountId,
      id: input.id,
      tag: input.tag,
      codeHash: input.codeHash,
      now,
      expiresAt: new Date(now.getTime() + rules.ttlSeconds * 1000),
      hourAgo: new Date(now.getTime() - 3600_000),
      cooledDown: new Date(now.getTime() - rules.resendSeconds * 1000),
      maxAttempts: rules.maxAttempts,
      maxPerHour: rules.maxPerHour,
      recipient: input.mail.recipient,
      sealed: input.mail.messageSealed,
      eventType: event.type,
      eventDetail: JSON.stringify(event.detail ?? {}),
    });
    const standing = rows[0]!;
    if (standing.issued) {
      this.#told?.outbox.announce();
      this.#told?.audit.announce([event]);
      return { ok: true };
    }
    // The failure count carries over to a new code, so a flow that used up its tries would
    // only get a dead code: refused instead of spending a mail and a place under the cap.
    if (standing.previous_attempts >= rules.maxAttempts) return { ok: false, reason: 'exhausted' };
    if (standing.previous_at) {
      const waited = (now.getTime() - new Date(standing.previous_at).getTime()) / 1000;
      if (waited < rules.resendSeconds) return { ok: false, reason: 'cooldown', retryAfterSeconds: Math.ceil(rules.resendSeconds - waited) };
    }
    return { ok: false, reason: 'cap' };
  }

  /**
   * Checks a submitted code against the live code of the flow and account. The attempt is
   * counted first, in the statement that refuses a dead code, and success is recorded with
   * `used_at IS NULL`: two concurrent submissions of the right code get exactly one `ok`.
   * `codeHashes` are the submitted code's keyed hashes under every configured key (a code
   * issued just before a key rotation still matches). `touch`: the account's factor (kind) the
   * code proves, marked used in the statement that uses the code. `unspent`: a right code is
   * counted and compared only, and its id comes back, for the caller's own statement to use it
   * up (the end of a sign-in, src/db/repositories/sign-in-finish.ts, with `used_at IS NULL`).
   */
  async check(input: CodeScope & { codeHashes: string[]; now: Date; maxAttempts: number; touch?: string; unspent?: boolean }): Promise<CheckResult> {
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
    if (input.unspent) return { ok: true, id: counted.id };
    const use = this.#db
      .updateTable('one_time_code')
      .set({ used_at: now })
      .where('id', '=', counted.id)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null);
    if (input.touch === undefined) return (await use.executeTakeFirst()).numUpdatedRows > 0n ? { ok: true } : { ok: false, reason: 'used' };
    // The factor the code proves is marked used in the same statement.
    const touch = input.touch;
    const used = await this.#db
      .with('used', () => use.returning('id'))
      .with('touched', (db) =>
        db
          .updateTable('factor')
          .set({ last_used_at: now })
          .where('account_id', '=', input.accountId)
          .where('kind', '=', touch)
          .where((eb) => eb.exists(eb.selectFrom('used').select('used.id'))),
      )
      .selectFrom('used')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(used.n) > 0 ? { ok: true } : { ok: false, reason: 'used' };
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
