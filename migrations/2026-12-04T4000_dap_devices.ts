import { type Kysely, sql } from 'kysely';

/**
 * The DÁP method (mobile-app sign-in, SPEC §8):
 * - a citizen's phones: each holds an ES256 key that never leaves it (only the public key is
 *   here) and a PIN kept only as an argon2id hash; five wrong PINs in a row lock the device
 *   until it is enrolled again. One device per enrollment: a stolen link is good once.
 * - challenges a browser waits on: single use, short-lived, bound to one sign-in (interaction
 *   uid), with the 3-digit number the citizen matches and the two decoys the phone shows with it.
 * - a passwordless sign-in stands at its factor before the account is known.
 */
const FLOW_ACCOUNT = "account_id is not null or state in ('choose_method', 'password', 'done') or (state = 'factor' and factor = method)";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dap_device')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('enrollment_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    // The device's public key as a JWK (EC P-256, x and y only): never a private key.
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('pin_hash', 'text', (c) => c.notNull())
    .addColumn('pin_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('dap_device_account').on('dap_device').column('account_id').execute();

  await db.schema
    .createTable('dap_challenge')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('flow_id', 'text', (c) => c.notNull())
    // Set when the sign-in already knows the account (the app as a second factor).
    .addColumn('account_id', 'text', (c) => c.references('account.id').onDelete('cascade'))
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('number', 'text', (c) => c.notNull())
    .addColumn('decoys', 'text', (c) => c.notNull())
    .addColumn('client', 'text')
    .addColumn('browser', 'text')
    .addColumn('ip', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'approved', 'refused', 'superseded', 'used')`))
    .addColumn('device_id', 'text', (c) => c.references('dap_device.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('dap_challenge_flow').on('dap_challenge').columns(['flow_id', 'created_at']).execute();
  await db.schema.createIndex('dap_challenge_expires_at').on('dap_challenge').column('expires_at').execute();

  await db.schema.alterTable('login_flow').dropConstraint('login_flow_account').execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_account', sql.raw(FLOW_ACCOUNT)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from login_flow where account_id is null and state = 'factor'`.execute(db);
  await db.schema.alterTable('login_flow').dropConstraint('login_flow_account').execute();
  await db.schema.alterTable('login_flow').addCheckConstraint('login_flow_account', sql`account_id is not null or state in ('choose_method', 'password', 'done')`).execute();
  await db.schema.dropTable('dap_challenge').ifExists().execute();
  await db.schema.dropTable('dap_device').ifExists().execute();
}
