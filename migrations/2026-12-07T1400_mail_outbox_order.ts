import { type Kysely, sql } from 'kysely';

/**
 * Mail after faults (issue 16): a claim is a short lease on the database's clock, renewed while
 * the mail is being sent (so replicas whose clocks differ agree on when it ends); a code mail
 * knows the code it carries, so a mail whose code was replaced, used or has expired before it
 * could leave is withdrawn instead of sent; mails to one address leave in the order they were
 * queued (the line index finds an older mail waiting for the same address); and a mail the
 * server refused by itself (it answered) is counted apart from the claims, as it no longer holds
 * up the mails queued after it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('mail_outbox')
    // The one-time code in the mail (one_time_code.id); null: a mail without one. No foreign
    // key: a code deleted after its expiry leaves its unsent mail with nothing live to carry.
    .addColumn('code_id', 'text')
    // Claimed by a sender until then (the database's now()); null: not claimed.
    .addColumn('leased_until', 'timestamptz')
    // Set instead of sent_at when its code was no longer live at the claim; the body is dropped.
    .addColumn('withdrawn_at', 'timestamptz')
    // Times the mail server refused this very mail (it was reachable): the back-off's count.
    .addColumn('refusals', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Unsent mail in the order it was queued, as the claim takes it (sent rows stay as records and
  // outnumber it by far).
  await db.schema.dropIndex('mail_outbox_pending').execute();
  await db.schema
    .createIndex('mail_outbox_pending')
    .on('mail_outbox')
    .column('id')
    .where(sql<boolean>`sent_at is null and withdrawn_at is null`)
    .execute();
  await db.schema
    .createIndex('mail_outbox_line')
    .on('mail_outbox')
    .columns(['recipient', 'id'])
    .where(sql<boolean>`sent_at is null and withdrawn_at is null`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('mail_outbox_line').execute();
  await db.schema.dropIndex('mail_outbox_pending').execute();
  // Without the column a withdrawn mail would wait for ever: it counts as done.
  await sql`update mail_outbox set sent_at = withdrawn_at where withdrawn_at is not null and sent_at is null`.execute(db);
  await db.schema.alterTable('mail_outbox').dropColumn('refusals').dropColumn('withdrawn_at').dropColumn('leased_until').dropColumn('code_id').execute();
  await db.schema.createIndex('mail_outbox_pending').on('mail_outbox').column('next_attempt_at').where(sql.ref('sent_at'), 'is', null).execute();
}
