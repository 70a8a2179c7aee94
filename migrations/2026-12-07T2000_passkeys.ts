import { type Kysely, sql } from 'kysely';

/**
 * Passkeys (issue 19), WebAuthn credentials a citizen registers in the portal:
 * - a credential: its id and public key (COSE, base64url) as the authenticator made them, the
 *   signature counter it last reported, its transports and backup flags, the name the citizen
 *   gave it, and the user handle kapu gave the account's passkeys (random, never the account
 *   id: an authenticator may show it). Several per account; a credential id is unique
 *   everywhere, so an assertion names its account.
 * - a challenge: single use (`used_at`), expiring like an emailed code, bound to one flow (the
 *   sign-in's interaction uid, or the portal session's enrollment) and, when the flow already
 *   knows it, to the account.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('passkey_credential')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('user_handle', 'text', (c) => c.notNull())
    // WebAuthn's counter is an unsigned 32-bit number: past integer's range.
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('backup_eligible', 'boolean', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    .addColumn('aaguid', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkey_credential_account').on('passkey_credential').column('account_id').execute();

  await db.schema
    .createTable('passkey_challenge')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('register', 'authenticate')`))
    .addColumn('flow_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.references('account.id').onDelete('cascade'))
    .addColumn('user_verification', 'text', (c) => c.notNull().check(sql`user_verification in ('required', 'preferred')`))
    // A registration's user handle, as its options gave it to the authenticator.
    .addColumn('user_handle', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkey_challenge_flow').on('passkey_challenge').columns(['flow_id', 'challenge']).execute();
  await db.schema.createIndex('passkey_challenge_expires_at').on('passkey_challenge').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('passkey_challenge').ifExists().execute();
  await db.schema.dropTable('passkey_credential').ifExists().execute();
}
