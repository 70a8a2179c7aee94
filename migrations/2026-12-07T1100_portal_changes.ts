import type { Kysely } from 'kysely';

/**
 * The account portal's security round (issue 15):
 * - a portal sign-in remembers the session the browser had when it began (the SHA-256 id of
 *   its cookie's token), and ends it when it finishes: one browser, one portal session;
 * - a new email address waits for a second factor before its code is sent (SPEC §5: a change
 *   that moves a factor asks for one first): the factor chosen to prove it, and when it did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_flow').addColumn('replaces_session', 'text').execute();
  await db.schema.alterTable('pending_change').addColumn('proof', 'text').addColumn('proved_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('pending_change').dropColumn('proved_at').dropColumn('proof').execute();
  await db.schema.alterTable('login_flow').dropColumn('replaces_session').execute();
}
