/**
 * The end of a sign-in as one statement: what used to be three to five (the interaction's
 * result, the flow marked done with the account's language, the audit events, a new browser's
 * mail, the right answer's throttle bookkeeping), and, for a step that holds no lock on its flow
 * (a right password that ends the sign-in, a right emailed code), the lock and the check of the
 * flow's state too, so that such a step needs no transaction at all: one statement is atomic on
 * its own. A right code comes along unused (`spend`) and is used up here: the sign-in ends with
 * it or not at all, and a second request with the same code finds the flow over.
 *
 * The order of locks is the one every step keeps (src/db/repositories/throttle.ts): the flow's
 * row first (`flow`, read FOR UPDATE), then the step's code (`spent`, which waits for `flow`),
 * then the throttle's rows in key order (`locked`, which
 * waits for `flow` through its subquery); the interaction's row is the provider's, written by
 * kapu only here and in the resume it leads to, never while a throttle row is held.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { AuditEvent } from './audit.ts';
import type { Database } from '../schema.ts';
import { type Placeholders, PreparedShapes } from '../prepared.ts';
import { type SettleValues, type Settlement, settleCtes, settleValues } from './throttle.ts';

export interface FinishWrite {
  uid: string;
  kind: 'rp' | 'portal';
  accountId: string;
  /** The language the citizen finished in: it becomes the account's. */
  lang: string;
  now: Date;
  /** An RP's sign-in: the interaction's result (src/oidc/interaction-store.ts), stored in place. */
  result?: { field: string; value: unknown; answer: string };
  /** The states the flow must still be in, for a step that has not locked it; omitted: it has. */
  from?: readonly string[];
  /** With `from`: the factor the flow must still be at. */
  fromFactor?: string;
  /**
   * A right one-time code the step counted and compared but did not use up (its id): used here,
   * first after the flow's lock (`used_at IS NULL`, so a code ends one sign-in once), and the
   * sign-in ends only if it was; `touch`, the account's factor it proves, is marked used with it.
   */
  spend?: { code: string; touch?: string };
  events: AuditEvent[];
  /** A mail to queue with it (sealed), sent by the outbox once this is committed. */
  mail?: { recipient: string; messageSealed: string };
  /** A right answer's throttle bookkeeping (src/security/throttle.ts `settlement`). */
  settle?: Settlement;
}

type Values = Record<string, unknown>;

const shapes = new PreparedShapes<Database, Values, { answer: string | null; done: number }>();

/** Runs the finishing statement: where to resume (an RP's), and whether the flow is now done. */
export async function finishSignIn(db: Kysely<Database>, write: FinishWrite): Promise<{ answer: string | null; done: boolean }> {
  const shape = {
    rp: write.kind === 'rp',
    from: write.from !== undefined,
    fromFactor: write.from !== undefined && write.fromFactor !== undefined,
    events: write.events.length,
    mail: write.mail !== undefined,
    settle: write.settle !== undefined,
    spend: write.spend !== undefined,
    touch: write.spend?.touch !== undefined,
  };
  const values: Values = { uid: write.uid, accountId: write.accountId, lang: write.lang, now: write.now };
  if (shape.fromFactor) values['fromFactor'] = write.fromFactor;
  if (write.spend) values['code'] = write.spend.code;
  if (shape.touch) values['touch'] = write.spend!.touch;
  if (shape.rp) Object.assign(values, { field: write.result!.field, result: JSON.stringify(write.result!.value), answer: write.result!.answer });
  if (write.from) values['from'] = [...write.from];
  write.events.forEach((e, i) => Object.assign(values, { [`e${i}_type`]: e.type, [`e${i}_account`]: e.accountId ?? null, [`e${i}_client`]: e.clientId ?? null, [`e${i}_ip`]: e.ip ?? null, [`e${i}_detail`]: JSON.stringify(e.detail ?? {}) }));
  if (write.mail) Object.assign(values, { recipient: write.mail.recipient, sealed: write.mail.messageSealed });
  if (write.settle) Object.assign(values, settleValues(write.settle));
  const prepared = shapes.get(JSON.stringify(shape), (_db, p) => statement(p, shape));
  const row = (await prepared.execute(db, values)).rows[0];
  return { answer: row?.answer ?? null, done: Number(row?.done ?? 0) > 0 };
}

type Shape = { rp: boolean; from: boolean; fromFactor: boolean; events: number; mail: boolean; settle: boolean; spend: boolean; touch: boolean };

function statement(p: Placeholders<Values>, shape: Shape): RawBuilder<{ answer: string | null; done: number }> {
  const v = (name: string) => sql`${p[name]}`;
  const ctes: RawBuilder<unknown>[] = [
    sql`flow as (
      select uid from login_flow
      where uid = ${v('uid')} and expires_at > ${v('now')} ${shape.from ? sql`and state = any(${v('from')}::text[])` : sql``}
        ${shape.fromFactor ? sql`and factor = ${v('fromFactor')}` : sql``}
      for update)`,
  ];
  // What the rest waits for: the flow locked, and the step's code used up, if it brought one.
  let held = 'flow';
  if (shape.spend) {
    ctes.push(sql`spent as (
      update one_time_code set used_at = ${v('now')}
      where id = ${v('code')} and used_at is null and superseded_at is null and exists (select 1 from flow)
      returning id)`);
    if (shape.touch) {
      ctes.push(sql`touched as (
      update factor set last_used_at = ${v('now')}
      where account_id = ${v('accountId')} and kind = ${v('touch')} and exists (select 1 from spent))`);
    }
    held = 'spent';
  }
  if (shape.rp) {
    ctes.push(sql`result as (
      update oidc_payload set payload = jsonb_set(payload, array[${v('field')}]::text[], ${v('result')}::jsonb)
      where model = 'Interaction' and id = ${v('uid')} and expires_at > ${v('now')} and exists (select 1 from ${sql.raw(held)})
      returning payload->>${v('answer')} as answer)`);
  }
  ctes.push(sql`done as (
      update login_flow set state = 'done', account_id = ${v('accountId')}, updated_at = ${v('now')}
      where uid = ${v('uid')} and exists (select 1 from ${sql.raw(shape.rp ? 'result' : held)})
      returning uid)`);
  ctes.push(sql`account_lang as (
      update account set lang = ${v('lang')}
      where id = ${v('accountId')} and lang is distinct from ${v('lang')} and exists (select 1 from done))`);
  if (shape.events > 0) {
    const rows = Array.from({ length: shape.events }, (_, i) => sql`(${v(`e${i}_type`)}, ${v(`e${i}_account`)}, ${v(`e${i}_client`)}, ${v(`e${i}_ip`)}, ${v(`e${i}_detail`)})`);
    ctes.push(sql`audited as (
      insert into audit_event (at, type, account_id, client_id, ip, detail)
      select ${v('now')}::timestamptz, e.type::text, e.account_id::text, e.client_id::text, e.ip::text, e.detail::jsonb
      from (values ${sql.join(rows)}) as e (type, account_id, client_id, ip, detail)
      where exists (select 1 from done))`);
  }
  if (shape.mail) {
    ctes.push(sql`mailed as (
      insert into mail_outbox (recipient, message_sealed, created_at, next_attempt_at)
      select ${v('recipient')}::text, ${v('sealed')}::text, ${v('now')}::timestamptz, ${v('now')}::timestamptz
      where exists (select 1 from done))`);
  }
  // Whatever became of the flow: a right answer is no failure.
  if (shape.settle) ctes.push(...settleCtes(p as Placeholders<SettleValues>, 'flow'));
  const answer = shape.rp ? sql`(select answer from result)` : sql`null::text`;
  return sql<{ answer: string | null; done: number }>`with ${sql.join(ctes)} select ${answer} as answer, (select count(*) from done)::int as done`;
}
