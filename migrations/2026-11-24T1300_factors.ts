import { type Kysely, sql } from 'kysely';

/** Second factors, one-time codes with their session tags, and the mail outbox. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('factor')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    // Factor-specific secret sealed with the SecretBox (the TOTP key); null for the emailed code.
    .addColumn('secret_sealed', 'text')
    // TOTP replay guard: the newest time step accepted; only a later one is accepted next.
    .addColumn('last_time_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addUniqueConstraint('factor_account_kind', ['account_id', 'kind'])
    .execute();

  await db.schema
    .createTable('one_time_code')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('account.id').onDelete('cascade'))
    // What the code unlocks: 'signin' (flow_id = interaction uid) or 'enroll'.
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('flow_id', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    // Set when the code signs someone in, or when a newer code replaces it.
    .addColumn('used_at', 'timestamptz')
    .addColumn('superseded_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('one_time_code_flow').on('one_time_code').columns(['purpose', 'flow_id', 'created_at']).execute();
  await db.schema.createIndex('one_time_code_account').on('one_time_code').columns(['account_id', 'created_at']).execute();

  // Transactional outbox: a mail is queued in the same transaction as what caused it, and a
  // sender on any replica delivers it (FOR UPDATE SKIP LOCKED: never two replicas at once).
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('recipient', 'text', (c) => c.notNull())
    // Subject, text and HTML, sealed: the body of a code mail contains the code.
    .addColumn('message_sealed', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('sent_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('mail_outbox_pending').on('mail_outbox').column('next_attempt_at').where(sql.ref('sent_at'), 'is', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['mail_outbox', 'one_time_code', 'factor']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
