import { type Kysely, sql } from 'kysely';

/**
 * The citizen's language: the one their last finished sign-in was in. Mails about the account
 * (codes, notices) are written in it, whatever page asked for them. Null until the first
 * sign-in after this migration: then the page's language is used.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('account')
    .addColumn('lang', 'text', (c) => c.check(sql`lang in ('hu', 'en')`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('account').dropColumn('lang').execute();
}
