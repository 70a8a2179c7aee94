/**
 * The statements behind OidcPayloadsRepository, each built and compiled once per shape (how
 * many rows it writes, deletes or consumes): the adapter's hot path runs them on every provider
 * request.
 */
import { type Kysely, type QueryCreator, type SqlBool, sql } from 'kysely';
import { type Placeholders, Prepared, PreparedShapes } from '../prepared.ts';
import type { Database } from '../schema.ts';
import { factorKinds } from './accounts.ts';

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

export type Values = Record<string, unknown>;
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

export const findBy = {
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

export const findWithContextBy = {
  id: new Prepared(findWithContextQuery('id')),
  uid: new Prepared(findWithContextQuery('uid')),
};

const ROW_COLUMNS = ['model', 'id', 'payload', 'grant_id', 'user_code', 'uid', 'expires_at'] as const;

/** The values of `upserts` as rows u0_model, u0_id, …, u1_model, … */
export function rowValues(upserts: PayloadWrite[]): Values {
  const values: Values = {};
  upserts.map(toRow).forEach((row, i) => {
    for (const column of ROW_COLUMNS) values[`u${i}_${column}`] = row[column];
  });
  return values;
}

export function pairValues(prefix: string, pairs: ModelId[]): Values {
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

export const store = new PreparedShapes<Database, Values, unknown>();

export function storeQuery(db: Kysely<Database>, p: Placeholders<Values>, upserts: number, deletes: number) {
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

export const redeemAndStore = new PreparedShapes<Database, Values, { won: boolean }>();

export function redeemAndStoreQuery(p: Placeholders<Values>, upserts: number, deletes: number, consumes: number) {
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
