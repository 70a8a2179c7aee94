import { sql } from 'kysely';
import { CHANGES_CHANNEL } from '../change-feed.ts';
import type { Db } from '../database.ts';
import type { ClientLogoTable } from '../schema.ts';

/**
 * Relying parties. Replicas cache them (src/oidc/client-directory.ts), so every write also
 * notifies the change feed, in the same statement: a notice goes out exactly when a change
 * commits, to every replica, whichever process (server or CLI) made it.
 */
export class ClientsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** Inserts a client; returns false when the client id is taken. */
  async create(client: {
    clientId: string;
    secretSealed: string | null;
    metadata: Record<string, unknown>;
    subject?: ClientSubject;
    now: Date;
  }): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db
          .insertInto('oidc_client')
          .values({
            client_id: client.clientId,
            secret_sealed: client.secretSealed,
            metadata: JSON.stringify(client.metadata),
            subject_type: client.subject?.subjectType ?? 'public',
            sector: client.subject?.sector ?? null,
            created_at: client.now,
          })
          .onConflict((oc) => oc.column('client_id').doNothing())
          .returning('client_id'),
      )
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A client, with what is known of its logo (never the logo's bytes: see findLogo). */
  async find(clientId: string) {
    return this.#db
      .selectFrom('oidc_client')
      .leftJoin('client_logo', 'client_logo.client_id', 'oidc_client.client_id')
      .select([
        'oidc_client.client_id',
        'oidc_client.secret_sealed',
        'oidc_client.metadata',
        'oidc_client.created_at',
        'oidc_client.previous_secret_sealed',
        'oidc_client.previous_secret_expires_at',
        'oidc_client.subject_type',
        'oidc_client.sector',
        ...LOGO_SUMMARY,
      ])
      .where('oidc_client.client_id', '=', clientId)
      .executeTakeFirst();
  }

  async list() {
    return this.#db
      .selectFrom('oidc_client')
      .leftJoin('client_logo', 'client_logo.client_id', 'oidc_client.client_id')
      .select([
        'oidc_client.client_id',
        'oidc_client.metadata',
        'oidc_client.created_at',
        'oidc_client.previous_secret_expires_at',
        'oidc_client.subject_type',
        'oidc_client.sector',
        ...LOGO_SUMMARY,
      ])
      .orderBy('oidc_client.client_id')
      .execute();
  }

  /** The client's logo as it is served: its bytes, type and hash. */
  async findLogo(clientId: string) {
    return this.#db.selectFrom('client_logo').select(['content_type', 'bytes', 'sha256']).where('client_id', '=', clientId).executeTakeFirst();
  }

  /** Sets or replaces the client's logo; false when there is no such client. */
  async setLogo(clientId: string, logo: { contentType: ClientLogoTable['content_type']; bytes: Uint8Array; sha256: string; now: Date }): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db
          .insertInto('client_logo')
          .columns(['client_id', 'content_type', 'bytes', 'sha256', 'updated_at'])
          // Through a select of the client: no client, no row (and no foreign-key error to translate).
          .expression((eb) =>
            eb
              .selectFrom('oidc_client')
              .select([
                'client_id',
                eb.val(logo.contentType).as('content_type'),
                eb.val(logo.bytes).as('bytes'),
                eb.val(logo.sha256).as('sha256'),
                eb.val(logo.now).as('updated_at'),
              ])
              .where('client_id', '=', clientId),
          )
          .onConflict((oc) =>
            oc.column('client_id').doUpdateSet((eb) => ({
              content_type: eb.ref('excluded.content_type'),
              bytes: eb.ref('excluded.bytes'),
              sha256: eb.ref('excluded.sha256'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .returning('client_id'),
      )
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Removes the client's logo; false when it had none. */
  async removeLogo(clientId: string): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) => db.deleteFrom('client_logo').where('client_id', '=', clientId).returning('client_id'))
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Replaces the secret, if it is still `expected` (two rotations at once: one wins), keeping
   * the old one as the previous secret until `previousExpiresAt` (or not at all).
   */
  async rotateSecret(
    clientId: string,
    change: { expected: string; secretSealed: string; previousSealed: string | null; previousExpiresAt: Date | null },
  ): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db
          .updateTable('oidc_client')
          .set({ secret_sealed: change.secretSealed, previous_secret_sealed: change.previousSealed, previous_secret_expires_at: change.previousExpiresAt })
          .where('client_id', '=', clientId)
          .where('secret_sealed', '=', change.expected)
          .returning('client_id'),
      )
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  async remove(clientId: string): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) => db.deleteFrom('oidc_client').where('client_id', '=', clientId).returning('client_id'))
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Sets the client's subject type and sector (both at once: the database keeps them in step). */
  async setSubject(clientId: string, subject: ClientSubject): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db
          .updateTable('oidc_client')
          .set({ subject_type: subject.subjectType, sector: subject.sector })
          .where('client_id', '=', clientId)
          .returning('client_id'),
      )
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }

  async updateMetadata(clientId: string, metadata: Record<string, unknown>): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db.updateTable('oidc_client').set({ metadata: JSON.stringify(metadata) }).where('client_id', '=', clientId).returning('client_id'),
      )
      .selectFrom('written')
      .select(notified)
      .executeTakeFirst();
    return row !== undefined;
  }
}

/** Whose `sub` the client sees: the account id (public), or one derived for its sector (pairwise). */
export type ClientSubject = { subjectType: 'public'; sector: null } | { subjectType: 'pairwise'; sector: string };

/** What the pages and `client show` need of a logo (null columns: the client has none). */
const LOGO_SUMMARY = [
  'client_logo.sha256 as logo_sha256',
  'client_logo.content_type as logo_content_type',
  'client_logo.updated_at as logo_updated_at',
  sql<number | null>`octet_length(client_logo.bytes)`.as('logo_size'),
] as const;

/** pg_notify for the written client: the select list of the statements above. */
const notified = sql<string>`pg_notify(${CHANGES_CHANNEL}, 'client:' || written.client_id)`.as('notified');
