import { type Kysely, sql } from 'kysely';

/**
 * The account portal (SPEC §2) and the inline upgrade (SPEC §4):
 * - a sign-in flow is for an RP (behind an oidc-provider interaction) or for the portal
 *   (kapu's own, with no interaction); a flow may stop at `enroll`, setting up a factor inline;
 * - portal sessions, stored hashed, shared by every replica;
 * - the app factor's törlőkód (removal code), stored only as an argon2id hash;
 * - changes waiting for a proof: a new email address (a code to it), a forgotten password.
 */
const STATES = "('choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'enroll', 'done')";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('login_flow')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('rp').check(sql`kind in ('rp', 'portal')`))
    .addColumn('enrollment_id', 'text')
    .execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_state').execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_state', sql.raw(`state in ${STATES}`)).execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_enrollment', sql`enrollment_id is not null or state <> 'enroll'`).execute();

  await db.schema
    .createTable('portal_session')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('browser', 'text')
    .execute();
  await db.schema.createIndex('portal_session_account').on('portal_session').column('account_id').execute();
  await db.schema.createIndex('portal_session_expires_at').on('portal_session').column('expires_at').execute();

  await db.schema.alterTable('factor').addColumn('recovery_hash', 'text').execute();

  await db.schema
    .createTable('pending_change')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('email', 'reset')`))
    // What is being changed to (the new address); null for a password reset.
    .addColumn('value', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('done_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('pending_change_expires_at').on('pending_change').column('expires_at').execute();

  // An account's sessions, grants and tokens are ended together (new password, sign out everywhere).
  await sql`create index oidc_payload_account on oidc_payload ((payload->>'accountId'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('oidc_payload_account').ifExists().execute();
  await db.schema.dropTable('pending_change').ifExists().execute();
  await db.schema.alterTable('factor').dropColumn('recovery_hash').execute();
  await db.schema.dropTable('portal_session').ifExists().execute();
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_enrollment').ifExists().execute();
  await sql`delete from login_flow where state = 'enroll' or kind = 'portal'`.execute(db);
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_state').execute();
  await db.schema
    .alterTable('login_flow')
    .addCheckConstraint('login_flow_state', sql`state in ('choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'done')`)
    .execute();
  await db.schema.alterTable('login_flow').dropColumn('enrollment_id').dropColumn('kind').execute();
}
