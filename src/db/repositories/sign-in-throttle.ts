/**
 * The throttle's statements as parts of a sign-in's own: a password guess counted in the read
 * of the sign-in, a right answer's bookkeeping in the lock of its flow. The throttle's rows are
 * locked after the flow's, as everywhere (src/db/repositories/throttle.ts).
 */
import { sql } from 'kysely';
import { Prepared } from '../prepared.ts';
import type { Database } from '../schema.ts';
import { type PasswordCount, type SettleValues, admitCtes, settleCtes } from './throttle.ts';

/**
 * A password guess counted in the statement that reads its sign-in, before anything is checked
 * (src/security/throttle.ts): only while the flow is at the password, and on the browser's own
 * key only when the username names the account it signed in to before.
 */
export function countCtes(count: PasswordCount & { state: string }) {
  const principal = count.device ? sql`(select case when candidate_id = ${count.device.accountId} then ${count.device.key} else ${count.userKey} end from loaded)` : sql`${count.userKey}`;
  return admitCtes(
    [
      { key: principal, rule: count.rule },
      { key: sql`${count.ip.key}`, rule: count.ip.rule },
    ],
    count.now,
    sql`exists (select 1 from loaded where state = ${count.state})`,
  );
}

/** The flow locked, and a right answer's throttle bookkeeping written after it: one statement. */
export const lockSettling = new Prepared<Database, SettleValues & { uid: string }, { state: string; method: string | null; account_id: string | null; factor: string | null; enrollment_id: string | null }>(
  (_db, p) => sql`
    with flow as (select state, method, account_id, factor, enrollment_id from login_flow where uid = ${p.uid} for update),
    ${sql.join(settleCtes(p, 'flow'))}
    select state, method, account_id, factor, enrollment_id from flow`,
);
