import { type Kysely, type QueryCreator, type SqlBool, sql } from 'kysely';
import type { Db } from '../database.ts';
import { type Placeholders, Prepared, PreparedShapes } from '../prepared.ts';
import type { Database } from '../schema.ts';
import { factorKinds } from './accounts.ts';

export interface StoredPayload {
  id: string;
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

/** One row of oidc-provider's storage. */
export interface ModelId {
  model: string;
  id: string;
}

/** A payload to store: oidc-provider's model, id, payload and expiry. */
export interface PayloadWrite {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  expiresAt: Date | null;
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

type Values = Record<string, unknown>;
type Lookup = { model: string; value: string; now: Date };

function findQuery(by: 'id' | 'uid' | 'user_code') {
  return (db: Kysely<Database>, p: Placeholders<Lookup>) =>
    db
      .selectFrom('oidc_payload')
      .select(['id', 'payload', 'consumed_at'])
      .where('model', '=', p.model)
      .where(by, '=', p.value)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', p.now)]));
}

const findBy = {
  id: new Prepared(findQuery('id')),
  uid: new Prepared(findQuery('uid')),
  user_code: new Prepared(findQuery('user_code')),
};

function findWithContextQuery(by: 'id' | 'uid') {
  return (db: Kysely<Database>, p: Placeholders<Lookup>) => {
    const live = (alias: string) => sql<SqlBool>`(${sql.ref(`${alias}.expires_at`)} is null or ${sql.ref(`${alias}.expires_at`)} > ${p.now})`;
    return db
      .selectFrom('oidc_payload as p')
      .leftJoin('oidc_payload as s', (join) => join.on('s.model', '=', 'Session').on(sql<SqlBool>`s.uid = p.payload->>'sessionUid'`).on(live('s')))
      .leftJoin('oidc_payload as g', (join) => join.on('g.model', '=', 'Grant').on(sql<SqlBool>`g.id = p.payload->>'grantId'`).on(live('g')))
      .leftJoin('account as a', (join) => join.on(sql<SqlBool>`a.id = coalesce(p.payload->>'accountId', p.payload->'result'->'login'->>'accountId')`))
      .select(['p.id', 'p.payload', 'p.consumed_at'])
      .select(['s.id as session_id', 's.payload as session_payload', 's.consumed_at as session_consumed_at'])
      .select(['g.id as grant_id', 'g.payload as grant_payload', 'g.consumed_at as grant_consumed_at'])
      .select(['a.id as account_id', 'a.username as account_username', 'a.name as account_name', 'a.email as account_email', 'a.created_at as account_created_at'])
      .select(factorKinds('a.id').as('account_factor_kinds'))
      .where('p.model', '=', p.model)
      .where(`p.${by}`, '=', p.value)
      .where(live('p'));
  };
}

const findWithContextBy = {
  id: new Prepared(findWithContextQuery('id')),
  uid: new Prepared(findWithContextQuery('uid')),
};

const ROW_COLUMNS = ['model', 'id', 'payload', 'grant_id', 'user_code', 'uid', 'expires_at'] as const;

/** The values of `upserts` as rows u0_model, u0_id, …, u1_model, … */
function rowValues(upserts: PayloadWrite[]): Values {
  const values: Values = {};
  upserts.map(toRow).forEach((row, i) => {
    for (const column of ROW_COLUMNS) values[`u${i}_${column}`] = row[column];
  });
  return values;
}

function pairValues(prefix: string, pairs: ModelId[]): Values {
  const values: Values = {};
  pairs.forEach((pair, i) => {
    values[`${prefix}${i}_model`] = pair.model;
    values[`${prefix}${i}_id`] = pair.id;
  });
  return values;
}

/** Placeholder rows and pairs for a statement of `count` of them. */
function placeholderRows(p: Placeholders<Values>, count: number) {
  return Array.from({ length: count }, (_, i) => Object.fromEntries(ROW_COLUMNS.map((column) => [column, p[`u${i}_${column}`]])) as ReturnType<typeof toRow>);
}

function placeholderPairs(p: Placeholders<Values>, prefix: string, count: number): ModelId[] {
  return Array.from({ length: count }, (_, i) => ({ model: p[`${prefix}${i}_model`] as string, id: p[`${prefix}${i}_id`] as string }));
}

const store = new PreparedShapes<Database, Values, unknown>();

function storeQuery(db: Kysely<Database>, p: Placeholders<Values>, upserts: number, deletes: number) {
  const deleting = inPairs(placeholderPairs(p, 'd', deletes));
  if (upserts === 0) return db.deleteFrom('oidc_payload').where(deleting);
  // The CTE only adds a name the insert does not use.
  const into: QueryCreator<Database> = deletes === 0 ? db : (db.with('deleted', (d) => d.deleteFrom('oidc_payload').where(deleting)) as unknown as QueryCreator<Database>);
  return into
    .insertInto('oidc_payload')
    .values(placeholderRows(p, upserts))
    .onConflict((oc) =>
      oc.columns(['model', 'id']).doUpdateSet((eb) => ({
        payload: eb.ref('excluded.payload'),
        grant_id: eb.ref('excluded.grant_id'),
        user_code: eb.ref('excluded.user_code'),
        uid: eb.ref('excluded.uid'),
        expires_at: eb.ref('excluded.expires_at'),
      })),
    );
}

const redeemAndStore = new PreparedShapes<Database, Values, { won: boolean }>();

function redeemAndStoreQuery(p: Placeholders<Values>, upserts: number, deletes: number, consumes: number) {
  const deleted = deletes === 0 ? sql`` : sql`, deleted as (delete from oidc_payload where ${inPairs(placeholderPairs(p, 'd', deletes))} and (select won from won))`;
  const rows = placeholderRows(p, upserts).map((r) => sql`(${r.model}::text, ${r.id}::text, ${r.payload}::jsonb, ${r.grant_id}::text, ${r.user_code}::text, ${r.uid}::text, ${r.expires_at}::timestamptz)`);
  const written =
    upserts === 0
      ? sql``
      : sql`, written as (
          insert into oidc_payload (model, id, payload, grant_id, user_code, uid, expires_at)
          select v.* from (values ${sql.join(rows)}) as v (model, id, payload, grant_id, user_code, uid, expires_at)
          where (select won from won)
          on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at
        )`;
  return sql<{ won: boolean }>`
    with consumed as (update oidc_payload set consumed_at = ${p['now']} where ${inPairs(placeholderPairs(p, 'c', consumes))} and consumed_at is null returning 1),
    won as (select count(*) = ${consumes} as won from consumed)
    ${deleted}
    ${written}
    select won from won`;
}

/** `(model, id) in ((…), …)` */
function inPairs(rows: ModelId[]) {
  return sql<boolean>`(model, id) in (${sql.join(rows.map((r) => sql`(${r.model}, ${r.id})`))})`;
}

function toRow(write: PayloadWrite) {
  const { payload } = write;
  return {
    model: write.model,
    id: write.id,
    payload: JSON.stringify(payload),
    grant_id: typeof payload['grantId'] === 'string' ? payload['grantId'] : null,
    user_code: typeof payload['userCode'] === 'string' ? payload['userCode'] : null,
    uid: typeof payload['uid'] === 'string' ? payload['uid'] : null,
    expires_at: write.expiresAt,
  };
}
