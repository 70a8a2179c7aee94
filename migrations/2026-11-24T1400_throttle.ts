import type { Kysely } from 'kysely';

/**
 * Failed-attempt counters shared by every replica (SPEC §5). A key names what is throttled:
 * `user:<normalized username>` (so unknown usernames behave exactly like known ones) or
 * `ip:<address>`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('auth_throttle')
    .addColumn('key', 'text', (c) => c.primaryKey())
    // Failures in the current window, and failures since the last success (NIST's cap).
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('consecutive', 'integer', (c) => c.notNull())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('locked_until', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('auth_throttle_updated_at').on('auth_throttle').column('updated_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auth_throttle').ifExists().execute();
}
