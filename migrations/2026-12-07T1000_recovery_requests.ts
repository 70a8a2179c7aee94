import { type Kysely, sql } from 'kysely';

/**
 * Requests made in a username's name before anything proves who asks (SPEC §2, §5, issue 15):
 * a forgotten password's code, and a link that lets one browser past a username lock. A request
 * is about the name as typed, not about an account: it is written the same way whether the name
 * is anyone's (then `account_id` names the account, and the mail goes to its address) or not (a
 * stand-in: no account, a secret nothing matches, a mail to nobody). Counted per name and per
 * name and address over the last hour; single use; the link's is bound to the browser that asked.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('recovery_request')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('reset', 'unlock')`))
    // Normalized, as asked; the caps count by it.
    .addColumn('username', 'text', (c) => c.notNull())
    // The active account the name named when asked; null for a stand-in.
    .addColumn('account_id', 'text', (c) => c.references('account.id').onDelete('cascade'))
    // The asker's address as the throttle counts it (IPv6 by its /64).
    .addColumn('ip_key', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    // Keyed hash of the mailed code (reset) or the link's token (unlock).
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    // An unlock link works only in the browser that asked: the keyed hash of its binding cookie.
    .addColumn('browser_hash', 'text')
    // The sign-in an unlock link was asked from (its page leads back there).
    .addColumn('flow_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addCheckConstraint('recovery_request_browser', sql`kind <> 'unlock' or browser_hash is not null`)
    .execute();
  await db.schema.createIndex('recovery_request_username').on('recovery_request').columns(['username', 'created_at']).execute();
  await db.schema.createIndex('recovery_request_expires_at').on('recovery_request').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('recovery_request').ifExists().execute();
}
