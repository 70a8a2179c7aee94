import { type Kysely, sql } from 'kysely';

/**
 * A relying party's logo, as the operator gave it (`client add|update --logo-file`): kapu's
 * pages show it from kapu's own address, because they load nothing from other hosts and kapu
 * never fetches a URL given to it (the RP's `logo_uri` stays metadata only). One logo per
 * client, gone with the client. The database refuses anything but the three raster formats and
 * more than 64 KiB, whichever code writes the row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('client_logo')
    .addColumn('client_id', 'text', (c) => c.primaryKey().references('oidc_client.client_id').onDelete('cascade'))
    .addColumn('content_type', 'text', (c) => c.notNull().check(sql`content_type in ('image/png', 'image/jpeg', 'image/webp')`))
    .addColumn('bytes', 'bytea', (c) => c.notNull().check(sql`octet_length(bytes) between 1 and 65536`))
    // Hex SHA-256 of the bytes: the ETag, and the version in the logo's URL on the pages.
    .addColumn('sha256', 'text', (c) => c.notNull().check(sql`sha256 ~ '^[0-9a-f]{64}$'`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('client_logo').ifExists().execute();
}
