/**
 * The hot statements behind OneTimeCodesRepository, built and compiled once
 * (src/db/prepared.ts): an emailed-code sign-in runs them.
 */
import { sql } from 'kysely';
import { Prepared } from '../prepared.ts';
import type { Database } from '../schema.ts';

/** The key of an account's code lock: who holds it decides the account's cool-down and hourly cap. */
export function lockKey(accountId: string): string {
  return `kapu.otp:${accountId}`;
}

export const lockAccount = new Prepared<Database, { key: string }, unknown>((_db, p) => sql`select pg_advisory_xact_lock(hashtext(${p.key}))`);

export const liveLocking = new Prepared<
  Database,
  { key: string; purpose: string; flowId: string; accountId: string },
  { id: string | null; tag: string | null; created_at: Date | string | null; expires_at: Date | string | null; attempts: number | null }
>(
  (_db, p) => sql`
    with locked as (select pg_advisory_xact_lock(hashtext(${p.key})))
    select l.id, l.tag, l.created_at, l.expires_at, l.attempts
    from locked left join lateral (
      select id, tag, created_at, expires_at, attempts from one_time_code
      where purpose = ${p.purpose} and flow_id = ${p.flowId} and account_id = ${p.accountId} and superseded_at is null
      order by created_at desc limit 1
    ) l on true`,
);

type IssueValues = {
  purpose: string;
  flowId: string;
  accountId: string;
  id: string;
  tag: string;
  codeHash: string;
  now: Date;
  expiresAt: Date;
  hourAgo: Date;
  cooledDown: Date;
  maxAttempts: number;
  maxPerHour: number;
  recipient: string;
  sealed: string;
  eventType: string;
  eventDetail: string;
};

/**
 * Where the flow's codes stand (its live code's time and tries, the account's codes in the last
 * hour), and, when the rules allow a new code, the new code (replacing the live one, with its
 * failure count), its mail and its audit event: one statement, run under the account's lock.
 */
export const issueCode = new Prepared<Database, IssueValues, { previous_at: Date | string | null; previous_attempts: number; issued: boolean }>(
  (_db, p) => sql`
    with previous as (
      select created_at, attempts from one_time_code
      where purpose = ${p.purpose} and flow_id = ${p.flowId} and account_id = ${p.accountId} and superseded_at is null
      order by created_at desc limit 1
    ),
    standing as (
      select (select created_at from previous) as previous_at,
             coalesce((select attempts from previous), 0)::int as previous_attempts,
             (select count(*) from one_time_code where account_id = ${p.accountId} and purpose = ${p.purpose} and created_at > ${p.hourAgo})::int as sent_last_hour
    ),
    allowed as (
      select previous_attempts from standing
      where previous_attempts < ${p.maxAttempts}::int
        and (previous_at is null or previous_at <= ${p.cooledDown}::timestamptz)
        and sent_last_hour < ${p.maxPerHour}::int
    ),
    superseded as (
      update one_time_code set superseded_at = ${p.now}
      where purpose = ${p.purpose} and flow_id = ${p.flowId} and account_id = ${p.accountId} and superseded_at is null
        and exists (select 1 from allowed)
    ),
    issued as (
      insert into one_time_code (id, account_id, purpose, flow_id, tag, code_hash, attempts, created_at, expires_at)
      select ${p.id}, ${p.accountId}, ${p.purpose}, ${p.flowId}, ${p.tag}, ${p.codeHash}, previous_attempts, ${p.now}, ${p.expiresAt} from allowed
      returning id
    ),
    mailed as (
      -- Linked to its code: should the code be replaced before the mail leaves, it never does.
      insert into mail_outbox (recipient, message_sealed, created_at, next_attempt_at, code_id)
      select ${p.recipient}, ${p.sealed}, ${p.now}, ${p.now}, id from issued
    ),
    audited as (
      insert into audit_event (at, type, account_id, detail)
      select ${p.now}, ${p.eventType}, ${p.accountId}, ${p.eventDetail}::jsonb from issued
    )
    select previous_at, previous_attempts, exists (select 1 from issued) as issued from standing`,
);
