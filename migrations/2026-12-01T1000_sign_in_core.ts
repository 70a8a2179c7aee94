import { type Kysely, sql } from 'kysely';

/**
 * The sign-in core's state machine and enrollment:
 * - a sign-in flow's state is one of a closed set, as in src/auth/flow-states.ts (kept in step
 *   by a test), and a flow past the password knows its account, one at its factor its factor;
 * - pending enrollments of a factor (portal, inline upgrade): what a factor keeps between
 *   "begin" and "confirm" (a TOTP secret not yet proven, the flow an enrollment code belongs to).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Flows live an hour; one in a state no longer known is simply started again.
  await sql`delete from login_flow where state not in ('choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'done')`.execute(db);
  await db.schema
    .alterTable('login_flow')
    .addCheckConstraint('login_flow_state', sql`state in ('choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'done')`)
    .execute();
  await db.schema
    .alterTable('login_flow')
    .addCheckConstraint('login_flow_account', sql`account_id is not null or state in ('choose_method', 'password', 'done')`)
    .execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_factor', sql`factor is not null or state <> 'factor'`).execute();

  await db.schema
    .createTable('enrollment')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('factor', 'text', (c) => c.notNull())
    // A secret the factor holds until the person proves it (TOTP), sealed with the SecretBox.
    .addColumn('secret_sealed', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('confirmed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('enrollment_account').on('enrollment').columns(['account_id', 'factor']).execute();
  await db.schema.createIndex('enrollment_expires_at').on('enrollment').column('expires_at').execute();

  // The live code of a flow is looked up on every code step.
  await db.schema
    .createIndex('one_time_code_live')
    .on('one_time_code')
    .columns(['flow_id', 'account_id', 'purpose'])
    .where(sql.ref('superseded_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('one_time_code_live').ifExists().execute();
  await db.schema.dropTable('enrollment').ifExists().execute();
  for (const name of ['login_flow_factor', 'login_flow_account', 'login_flow_state']) {
    await db.schema.alterTable('login_flow').dropConstraint(name).ifExists().execute();
  }
}
