import type { Db } from '../database.ts';

export class ClientsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** Inserts a client; returns false when the client id is taken. */
  async create(client: { clientId: string; secretSealed: string | null; metadata: Record<string, unknown>; now: Date }): Promise<boolean> {
    const row = await this.#db
      .insertInto('oidc_client')
      .values({
        client_id: client.clientId,
        secret_sealed: client.secretSealed,
        metadata: JSON.stringify(client.metadata),
        created_at: client.now,
      })
      .onConflict((oc) => oc.column('client_id').doNothing())
      .returning('client_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async find(clientId: string) {
    return this.#db
      .selectFrom('oidc_client')
      .select(['client_id', 'secret_sealed', 'metadata'])
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  }

  async list() {
    return this.#db.selectFrom('oidc_client').select(['client_id', 'metadata', 'created_at']).orderBy('client_id').execute();
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('oidc_client').where('client_id', '=', clientId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async updateMetadata(clientId: string, metadata: Record<string, unknown>): Promise<boolean> {
    const result = await this.#db
      .updateTable('oidc_client')
      .set({ metadata: JSON.stringify(metadata) })
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
