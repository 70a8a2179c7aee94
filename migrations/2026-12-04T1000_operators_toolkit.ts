import { type Kysely, sql } from 'kysely';

/**
 * The operators' toolkit:
 * - an account can be disabled (kept, with its audit trail, but it cannot sign in);
 * - a client secret can be rotated with a grace period: the previous secret keeps working until
 *   `previous_secret_expires_at`;
 * - signing keys rotate: a key is published from `created_at` and signs from `signs_from`
 *   (the next key waits in JWKS until RPs' caches have it); an old key leaves JWKS once every
 *   token it signed has expired (derived from the times, see src/oidc/keys.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('account').addColumn('disabled_at', 'timestamptz').execute();
  await db.schema
    .alterTable('oidc_client')
    .addColumn('previous_secret_sealed', 'text')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .execute();
  await db.schema.alterTable('signing_key').addColumn('signs_from', 'timestamptz').execute();
  await sql`update signing_key set signs_from = created_at`.execute(db);
  await db.schema.alterTable('signing_key').alterColumn('signs_from', (c) => c.setNotNull()).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signing_key').dropColumn('signs_from').execute();
  await db.schema.alterTable('oidc_client').dropColumn('previous_secret_expires_at').dropColumn('previous_secret_sealed').execute();
  await db.schema.alterTable('account').dropColumn('disabled_at').execute();
}
