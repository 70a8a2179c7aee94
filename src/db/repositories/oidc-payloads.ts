import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { type ModelId, type PayloadWrite, type Values, findBy, findWithContextBy, pairValues, redeemAndStore, redeemAndStoreQuery, rowValues, store, storeQuery } from './oidc-payload-statements.ts';

export type { ModelId, PayloadWrite };

export interface StoredPayload {
  id: string;
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

/** What a token's (or an interaction's) lookup brings along, for the rest of its request. */
export interface PayloadContext {
  session?: StoredPayload;
  grant?: StoredPayload;
  account?: AccountWithFactors;
}

export interface AccountWithFactors {
  id: string;
  username: string;
  name: string;
  email: string;
  created_at: Date;
  factor_kinds: string[];
}

/** Storage behind oidc-provider's Adapter: one row per (model, id). Expired rows read as absent. */
export class OidcPayloadsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async upsert(write: PayloadWrite): Promise<void> {
    await this.apply([write], []);
  }

  /**
   * Stores `upserts` and deletes `deletes` (model, id) in one statement. A (model, id) may appear
   * at most once across both lists.
   *
   * With `consumes`, the same statement first marks those rows consumed, each only if no one
   * has yet, and writes the rest only if every one of them was still unconsumed: a request that
   * redeems a code or a refresh token stores what it issued for it together with the
   * redemption, or, when another request redeemed it first, nothing. Returns whether it won.
   */
  async apply(upserts: PayloadWrite[], deletes: ModelId[], consumes: ModelId[] = [], now?: Date): Promise<boolean> {
    if (consumes.length === 0) {
      await this.#store(upserts, deletes);
      return true;
    }
    const keys = new Set([...upserts, ...deletes].map((w) => `${w.model}:${w.id}`));
    if (consumes.some((c) => keys.has(`${c.model}:${c.id}`))) {
      // A row both redeemed and rewritten: one statement must not change it twice.
      for (const c of consumes) if (!(await this.consume(c.model, c.id, now!))) return false;
      await this.#store(upserts, deletes);
      return true;
    }
    const values: Values = { now: now!, ...rowValues(upserts), ...pairValues('d', deletes), ...pairValues('c', consumes) };
    const shape = `${upserts.length}:${deletes.length}:${consumes.length}`;
    const result = await redeemAndStore.get(shape, (_db, p) => redeemAndStoreQuery(p, upserts.length, deletes.length, consumes.length)).execute(this.#db, values);
    return result.rows[0]?.won === true;
  }

  async #store(upserts: PayloadWrite[], deletes: ModelId[]): Promise<void> {
    if (upserts.length + deletes.length === 0) return;
    const values: Values = { ...rowValues(upserts), ...pairValues('d', deletes) };
    await store.get(`${upserts.length}:${deletes.length}`, (db, p) => storeQuery(db, p, upserts.length, deletes.length)).execute(this.#db, values);
  }

  async find(model: string, by: 'id' | 'uid' | 'user_code', value: string, now: Date): Promise<StoredPayload | undefined> {
    const { rows } = await findBy[by].execute(this.#db, { model, value, now });
    const row = rows[0];
    return row && { id: row.id, payload: row.payload, consumedAt: row.consumed_at };
  }

  /**
   * A payload with what the request that looks it up will ask for next, in one query: the
   * session and grant it names (`sessionUid`, `grantId`) and its account (`accountId`, or an
   * interaction's finished login) with the kinds of factor the account has.
   */
  async findWithContext(model: string, by: 'id' | 'uid', value: string, now: Date): Promise<{ found: StoredPayload; context: PayloadContext } | undefined> {
    const row = (await findWithContextBy[by].execute(this.#db, { model, value, now })).rows[0];
    if (!row) return undefined;
    const context: PayloadContext = {};
    if (row.session_id && row.session_payload) context.session = { id: row.session_id, payload: row.session_payload, consumedAt: row.session_consumed_at };
    if (row.grant_id && row.grant_payload) context.grant = { id: row.grant_id, payload: row.grant_payload, consumedAt: row.grant_consumed_at };
    if (row.account_id) {
      context.account = {
        id: row.account_id,
        username: row.account_username!,
        name: row.account_name!,
        email: row.account_email!,
        created_at: row.account_created_at!,
        factor_kinds: row.account_factor_kinds,
      };
    }
    return { found: { id: row.id, payload: row.payload, consumedAt: row.consumed_at }, context };
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

  /**
   * Sets the top-level `field` of a live payload in place (one statement, no read first) and
   * returns its `answer` field as text; undefined when the payload is gone or expired. For
   * kapu's writes into a payload the provider owns, which src/oidc/interaction-store.ts alone
   * makes.
   */
  async setField(model: string, id: string, field: string, value: unknown, now: Date, answer: string): Promise<string | undefined> {
    const row = await this.#db
      .updateTable('oidc_payload')
      .set({ payload: sql`jsonb_set(payload, array[${field}]::text[], ${JSON.stringify(value)}::jsonb)` })
      .where('model', '=', model)
      .where('id', '=', id)
      .where('expires_at', '>', now)
      .returning(sql<string>`payload->>${answer}`.as('answer'))
      .executeTakeFirst();
    return row?.answer;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payload').where('model', '=', model).where('id', '=', id).execute();
  }

  /** Every artefact of a grant, across models: tokens, codes, the grant itself. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db.deleteFrom('oidc_payload').where('grant_id', '=', grantId).execute();
  }

  /**
   * Every session, grant and token of an account, across RPs: what "sign out everywhere" and a
   * new password end.
   */
  async revokeByAccountId(accountId: string): Promise<number> {
    const result = await this.#db.deleteFrom('oidc_payload').where(sql<string>`payload->>'accountId'`, '=', accountId).executeTakeFirst();
    return Number(result.numDeletedRows);
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

// ---------------------------------------------------------------------------------------------
// The statements, built once per shape (src/db/prepared.ts): every provider request sends some.
