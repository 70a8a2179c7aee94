import { type Kysely, sql } from 'kysely';

/**
 * Setting up another factor in the portal asks for a factor the account has first (SPEC §5: a
 * change that moves a factor asks for a second factor), as a new address does: the setup waits
 * as a pending change of its own kind, with the factor that proves it and when it did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table pending_change drop constraint if exists pending_change_kind_check`.execute(db);
  await sql`alter table pending_change add constraint pending_change_kind_check check (kind in ('email', 'reset', 'setup'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from pending_change where kind = 'setup'`.execute(db);
  await sql`alter table pending_change drop constraint if exists pending_change_kind_check`.execute(db);
  await sql`alter table pending_change add constraint pending_change_kind_check check (kind in ('email', 'reset'))`.execute(db);
}
