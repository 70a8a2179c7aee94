import type { Kysely } from 'kysely';

/**
 * The account portal's security round (issue 15): a portal sign-in remembers the session the
 * browser had when it began (the SHA-256 id of its cookie's token), and ends it when it
 * finishes: one browser, one portal session.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_flow').addColumn('replaces_session', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_flow').dropColumn('replaces_session').execute();
}
