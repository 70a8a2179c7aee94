import { type Kysely, sql } from 'kysely';

/**
 * Pairwise subject identifiers (OIDC Core §8.1), chosen per relying party by the operator
 * (`client add|update --subject-type pairwise`):
 * - a client's subject type, and for a pairwise one its sector: the host its `sub` values are
 *   derived for. The sector is fixed when the client becomes pairwise (so moving the RP's
 *   redirect URIs keeps its citizens' `sub`), and kapu never fetches a sector identifier URI to
 *   find it. The database refuses a pairwise client without a sector and a public one with one.
 * - the key `sub` values are derived with (HMAC-SHA-256 of sector and account id): one for the
 *   whole installation, made by the first replica that starts, sealed with ENCRYPTION_KEYS.
 *   Every replica, every restart and the CLI use the same one; it is never rotated, because a
 *   new key would give every pairwise RP new `sub` values for everybody.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('oidc_client')
    .addColumn('subject_type', 'text', (c) => c.notNull().defaultTo('public').check(sql`subject_type in ('public', 'pairwise')`))
    .addColumn('sector', 'text', (c) => c.check(sql`sector <> ''`))
    .execute();
  await db.schema.alterTable('oidc_client').addCheckConstraint('oidc_client_sector', sql`(subject_type = 'pairwise') = (sector is not null)`).execute();

  await db.schema
    .createTable('pairwise_key')
    // One row: the installation's key.
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('key_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('pairwise_key').ifExists().execute();
  await db.schema.alterTable('oidc_client').dropConstraint('oidc_client_sector').ifExists().execute();
  await db.schema.alterTable('oidc_client').dropColumn('sector').dropColumn('subject_type').execute();
}
