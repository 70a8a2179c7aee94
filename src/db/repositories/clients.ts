import { sql } from 'kysely';
import { CHANGES_CHANNEL } from '../change-feed.ts';
import type { Db } from '../database.ts';

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
  async create(client: { clientId: string; secretSealed: string | null; metadata: Record<string, unknown>; now: Date }): Promise<boolean> {
    const row = await this.#db
      .with('written', (db) =>
        db
          .insertInto('oidc_client')
          .values({
            client_id: client.clientId,
            secret_sealed: client.secretSealed,
            metadata: JSON.stringify(client.metadata),
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

  async find(clientId: string) {
    return this.#db
      .selectFrom('oidc_client')
      .select(['client_id', 'secret_sealed', 'metadata', 'created_at', 'previous_secret_sealed', 'previous_secret_expires_at'])
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  }

  async list() {
    return this.#db
      .selectFrom('oidc_client')
      .select(['client_id', 'metadata', 'created_at', 'previous_secret_expires_at'])
      .orderBy('client_id')
      .execute();
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

/** pg_notify for the written client: the select list of the statements above. */
const notified = sql<string>`pg_notify(${CHANGES_CHANNEL}, 'client:' || written.client_id)`.as('notified');
