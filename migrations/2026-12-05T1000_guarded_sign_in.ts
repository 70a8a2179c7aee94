import { type Kysely, sql } from 'kysely';

/**
 * A sign-in under a username lock (SPEC §5, issue 9): when strangers' failures have locked a
 * username, a citizen can still get in from a new browser by proving the password and the
 * second factor. The flow stands at `guarded` whether or not the password was right (so the
 * lock is no password oracle); `guard` keeps the typed username and the factor's own state for
 * the proof (an emailed code's tag, hash, expiry and tries). With a wrong password the flow
 * names no account, and its proof can never succeed.
 */
const STATES = "('choose_method', 'password', 'choose_factor', 'factor', 'guarded', 'upgrade', 'enroll', 'done')";
const FLOW_ACCOUNT = "account_id is not null or state in ('choose_method', 'password', 'guarded', 'done') or (state = 'factor' and factor = method)";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_flow').addColumn('guard', 'text').execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_state').execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_state', sql.raw(`state in ${STATES}`)).execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_account').execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_account', sql.raw(FLOW_ACCOUNT)).execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_guard', sql`state <> 'guarded' or (guard is not null and factor is not null)`).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from login_flow where state = 'guarded'`.execute(db);
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_guard').execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_account').execute();
  await db.schema
    .alterTable('login_flow')
    .addCheckConstraint('login_flow_account', sql`account_id is not null or state in ('choose_method', 'password', 'done') or (state = 'factor' and factor = method)`)
    .execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_state').execute();
  await db.schema
    .alterTable('login_flow')
    .addCheckConstraint('login_flow_state', sql`state in ('choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'enroll', 'done')`)
    .execute();
  await db.schema.alterTable('login_flow').dropColumn('guard').execute();
}
