import { sql } from 'kysely';
import type { Db } from '../database.ts';

export interface StoredPayload {
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

/** Storage behind oidc-provider's Adapter: one row per (model, id). Expired rows read as absent. */
export class OidcPayloadsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void> {
    const row = {
      model,
      id,
      payload: JSON.stringify(payload),
      grant_id: typeof payload['grantId'] === 'string' ? payload['grantId'] : null,
      user_code: typeof payload['userCode'] === 'string' ? payload['userCode'] : null,
      uid: typeof payload['uid'] === 'string' ? payload['uid'] : null,
      expires_at: expiresAt,
    };
    await this.#db
      .insertInto('oidc_payload')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['model', 'id']).doUpdateSet({
          payload: row.payload,
          grant_id: row.grant_id,
          user_code: row.user_code,
          uid: row.uid,
          expires_at: row.expires_at,
        }),
      )
      .execute();
  }

  async find(model: string, by: 'id' | 'uid' | 'user_code', value: string, now: Date): Promise<StoredPayload | undefined> {
    const row = await this.#db
      .selectFrom('oidc_payload')
      .select(['payload', 'consumed_at'])
      .where('model', '=', model)
      .where(by, '=', value)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    return row && { payload: row.payload, consumedAt: row.consumed_at };
  }

  /** Marks the row consumed; only the first caller wins (returns true). */
  async consume(model: string, id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('oidc_payload')
      .set({ consumed_at: now })
      .where('model', '=', model)
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payload').where('model', '=', model).where('id', '=', id).execute();
  }

  /** Every artefact of a grant, across models: tokens, codes, the grant itself. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payload').where('grant_id', '=', grantId).execute();
  }

  /** Every artefact issued to a client (used when the client is removed). */
  async revokeByClientId(clientId: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payload').where(sql<string>`payload->>'clientId'`, '=', clientId).execute();
  }

  async deleteExpired(now: Date, limit = 1000): Promise<number> {
    const result = await this.#db
      .deleteFrom('oidc_payload')
      .where(sql<boolean>`(model, id) in (${this.#db.selectFrom('oidc_payload').select(['model', 'id']).where('expires_at', '<', now).limit(limit)})`)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
