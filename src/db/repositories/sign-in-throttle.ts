/**
 * The throttle's statements as parts of a sign-in's own: a password guess counted in the read
 * of the sign-in, a right answer's bookkeeping in the lock of its flow. The throttle's rows are
 * locked after the flow's, as everywhere (src/db/repositories/throttle.ts).
 */
import { type RawBuilder, sql } from 'kysely';
import { Prepared } from '../prepared.ts';
import type { Database } from '../schema.ts';
import { type SettleValues, type StepCount, admitCtes, settleCtes } from './throttle.ts';

/**
 * A step's guess counted in the statement that reads its sign-in, before anything is checked
 * (src/security/throttle.ts), only while the flow is where such a guess is answered. A password
 * counts on the browser's own key only when the username names the account it signed in to
 * before; a factor's answer on the account's key, or the sign-in's before it names one.
 */
export function countCtes(count: StepCount) {
  if (count.kind === 'password') {
    const principal = count.device ? sql`(select case when candidate_id = ${count.device.accountId} then ${count.device.key} else ${count.userKey} end from loaded)` : sql`${count.userKey}`;
    return admitCtes(keys(principal, count), count.now, sql`exists (select 1 from loaded where state = 'password')`);
  }
  const principal = sql`(select coalesce(${count.prefix} || account_id, ${count.flowKey}) from loaded)`;
  const answered = sql`exists (
    select 1 from loaded where state = 'factor' and (
      (account_id is not null and factor = any(${count.typed.signIn}::text[]) and factor = any(account_factor_kinds))
      or (account_id is null and factor = any(${count.typed.alone}::text[]))))`;
  return admitCtes(keys(principal, count), count.now, answered);
}

function keys(principal: RawBuilder<unknown>, count: StepCount) {
  return [
    { key: principal, rule: count.rule },
    { key: sql`${count.ip.key}`, rule: count.ip.rule },
  ];
}

/** The flow locked, and a right answer's throttle bookkeeping written after it: one statement. */
export const lockSettling = new Prepared<Database, SettleValues & { uid: string }, { state: string; method: string | null; account_id: string | null; factor: string | null; enrollment_id: string | null }>(
  (_db, p) => sql`
    with flow as (select state, method, account_id, factor, enrollment_id from login_flow where uid = ${p.uid} for update),
    ${sql.join(settleCtes(p, 'flow'))}
    select state, method, account_id, factor, enrollment_id from flow`,
);

export type MoveValues = SettleValues & { uid: string; from: string[]; state: string; accountId: string; factor: string | null; now: Date; events: string };

/**
 * As `lockSettling`, and the flow moved on (with the step's audit events, a JSON array of
 * them) when it was still in one of `from`: the whole of a step that needs nothing else.
 */
export const lockSettlingMoving = new Prepared<Database, MoveValues, { state: string; method: string | null; account_id: string | null; factor: string | null; enrollment_id: string | null; moved: boolean }>(
  (_db, p) => sql`
    with flow as (select state, method, account_id, factor, enrollment_id from login_flow where uid = ${p.uid} for update),
    ${sql.join(settleCtes(p, 'flow'))},
    moved as (
      update login_flow set state = ${p.state}, account_id = ${p.accountId}, factor = ${p.factor}, updated_at = ${p.now}
      where uid = ${p.uid} and (select state from flow) = any(${p.from}::text[])
      returning uid),
    audited as (
      insert into audit_event (at, type, account_id, client_id, ip, detail)
      select ${p.now}, e.type, e.account_id, e.client_id, e.ip, coalesce(e.detail, '{}'::jsonb)
      from jsonb_to_recordset(${p.events}::jsonb) as e (type text, account_id text, client_id text, ip text, detail jsonb)
      where exists (select 1 from moved))
    select state, method, account_id, factor, enrollment_id, exists (select 1 from moved) as moved from flow`,
);
