import { sql } from 'kysely';
import type { Db } from '../database.ts';
import type { InTransaction } from '../unit-of-work.ts';
import { normalizeUsername } from './accounts.ts';
import { type AuditEvent, type AuditRepository, auditRows } from './audit.ts';
import type { MailOutboxRepository } from './mail-outbox.ts';
import { type FinishWrite, finishSignIn } from './sign-in-finish.ts';
import { countCtes, lockSettling, lockSettlingMoving } from './sign-in-throttle.ts';
import { type AdmittedRow, type Counted, type Settlement, type StepCount, countedOf, settleValues } from './throttle.ts';

/**
 * A sign-in as kapu stores it: kapu's own flow row (`login_flow`), and for a sign-in at an RP
 * oidc-provider's Interaction (the RP's request; read-only here: its result is written by
 * src/oidc/interaction-store.ts), keyed by the interaction uid. A sign-in at kapu's own portal
 * has no interaction.
 */
export interface SignInRow {
  kind: 'rp' | 'portal';
  /** The provider's interaction payload (params, prompt, returnTo, …); null for the portal. */
  interaction: Record<string, unknown> | null;
  state: string;
  method: string | null;
  factor: string | null;
  enrollmentId: string | null;
  /** State `guarded`: what the proof under a username lock keeps (src/auth/sign-in.ts). */
  guard: string | null;
  /** The account the flow has identified (after a right password), with its factor kinds. */
  account: { id: string; username: string; name: string; email: string; lang: string | null; factorKinds: string[] } | null;
}

/** The account a typed username names, with what the password check needs. */
export interface Candidate {
  id: string;
  username: string;
  name: string;
  email: string;
  /** The citizen's language ('hu' | 'en'), null until their first finished sign-in. */
  lang: string | null;
  passwordHash: string;
  factorKinds: string[];
}

/** A flow moved on by the statement that locks it (SignInsRepository.lock). */
export interface FlowMove {
  from: readonly string[];
  change: { state: string; accountId: string; factor: string | null };
  events: readonly AuditEvent[];
  now: Date;
}

export interface FlowChange {
  state: string;
  method?: string | null;
  accountId?: string | null;
  factor?: string | null;
  enrollmentId?: string | null;
  guard?: string | null;
}

interface LoadedRow {
  kind: 'rp' | 'portal';
  payload: Record<string, unknown> | null;
  state: string;
  method: string | null;
  factor: string | null;
  enrollment_id: string | null;
  guard: string | null;
  account_id: string | null;
  account_username: string | null;
  account_name: string | null;
  account_email: string | null;
  account_lang: string | null;
  account_factor_kinds: string[] | null;
  candidate_id?: string | null;
  candidate_username?: string | null;
  candidate_name?: string | null;
  candidate_email?: string | null;
  candidate_lang?: string | null;
  candidate_password_hash?: string | null;
  candidate_factor_kinds?: string[] | null;
  counted?: AdmittedRow[];
}

export class SignInsRepository {
  readonly #db: Db;
  /** Told of the audit events and the mail a sign-in's finishing statement wrote. */
  readonly #told: { audit: Pick<AuditRepository, 'announce'>; outbox: Pick<MailOutboxRepository, 'announce'> } | undefined;

  constructor(db: Db, told?: { audit: Pick<AuditRepository, 'announce'>; outbox: Pick<MailOutboxRepository, 'announce'> }) {
    this.#db = db;
    this.#told = told;
  }

  /**
   * Everything a sign-in step starts from, in one statement: the flow, the live interaction
   * behind it (an RP's flow is opened in its first state on the interaction's first view; a
   * flow without a live interaction is over), the flow's account with its factor kinds, and —
   * with `candidate` — the account that username names, with its password hash (the one read
   * of a password hash in kapu). A disabled account is no candidate: it fails like an unknown
   * username. With `count`, the step's guess is counted in the same statement (`counted`: the
   * keys that counted it; none when the flow was not where such a guess is answered).
   */
  async load(uid: string, now: Date, initialState: string, candidate?: string, count?: StepCount): Promise<{ signIn: SignInRow; candidate: Candidate | null; counted?: Counted[] } | undefined> {
    const candidateJoin = candidate === undefined ? sql`` : sql`left join account c on c.username = ${normalizeUsername(candidate)} and c.disabled_at is null`;
    const candidateColumns =
      candidate === undefined
        ? sql``
        : sql`, c.id as candidate_id, c.username as candidate_username, c.name as candidate_name, c.email as candidate_email, c.lang as candidate_lang,
              c.password_hash as candidate_password_hash,
              array(select f.kind from factor f where f.account_id = c.id order by f.created_at) as candidate_factor_kinds`;
    const result = await sql<LoadedRow>`
      with interaction as (
        select payload, expires_at from oidc_payload
        where model = 'Interaction' and id = ${uid} and expires_at > ${now}
      ),
      opened as (
        insert into login_flow (uid, state, created_at, updated_at, expires_at)
        select ${uid}, ${initialState}, ${now}, ${now}, expires_at from interaction
        on conflict (uid) do nothing
        returning kind, state, method, account_id, factor, enrollment_id, guard
      ),
      flow as (
        select kind, state, method, account_id, factor, enrollment_id, guard from opened
        union all
        select kind, state, method, account_id, factor, enrollment_id, guard from login_flow where uid = ${uid} and expires_at > ${now}
      ),
      loaded as (
        select f.kind, i.payload, f.state, f.method, f.factor, f.enrollment_id, f.guard, f.account_id,
               a.username as account_username, a.name as account_name, a.email as account_email, a.lang as account_lang,
               case when a.id is null then null else array(select k.kind from factor k where k.account_id = a.id order by k.created_at) end as account_factor_kinds
               ${candidateColumns}
        from (select * from flow limit 1) f
        left join interaction i on true
        left join account a on a.id = f.account_id
        ${candidateJoin}
      )
      ${count ? sql`, ${countCtes(count)}` : sql``}
      select loaded.* ${count ? sql`, (select coalesce(json_agg(admitted), '[]'::json) from admitted) as counted` : sql``}
      from loaded`.execute(this.#db);
    const row = result.rows[0];
    // An RP's sign-in lives as long as its interaction.
    if (!row || (row.kind === 'rp' && !row.payload)) return undefined;
    return {
      signIn: {
        kind: row.kind,
        interaction: row.payload,
        state: row.state,
        method: row.method,
        factor: row.factor,
        enrollmentId: row.enrollment_id,
        guard: row.guard,
        account: row.account_id
          ? { id: row.account_id, username: row.account_username!, name: row.account_name!, email: row.account_email!, lang: row.account_lang, factorKinds: row.account_factor_kinds ?? [] }
          : null,
      },
      ...(count && { counted: countedOf(row.counted ?? [], count.now) }),
      candidate: row.candidate_id
        ? {
            id: row.candidate_id,
            username: row.candidate_username!,
            name: row.candidate_name!,
            email: row.candidate_email!,
            lang: row.candidate_lang ?? null,
            passwordHash: row.candidate_password_hash!,
            factorKinds: row.candidate_factor_kinds ?? [],
          }
        : null,
    };
  }

  /**
   * A sign-in at the account portal: a flow of its own, with no interaction behind it.
   * `replacesSession`: the portal session the browser has now, which the sign-in ends when it
   * finishes.
   */
  async openPortal(uid: string, now: Date, expiresAt: Date, replacesSession: string | null = null): Promise<void> {
    await this.#db
      .insertInto('login_flow')
      .values({
        uid,
        kind: 'portal',
        state: 'choose_method',
        method: null,
        account_id: null,
        factor: null,
        enrollment_id: null,
        replaces_session: replacesSession,
        created_at: now,
        updated_at: now,
        expires_at: expiresAt,
      })
      .execute();
  }

  /**
   * Locks the flow row for the rest of the caller's transaction and returns its state: a step
   * runs with its flow locked, so no other step of the same sign-in interleaves with it. With
   * `settle`, a right answer's throttle bookkeeping is written in the same statement, its rows
   * locked after the flow's (whatever the flow's state); with `move` too, the flow moved on
   * (and the step's audit events recorded) when it is in one of `move.from`.
   */
  async lock(this: InTransaction<SignInsRepository>, uid: string, settle?: Settlement, move?: FlowMove) {
    if (settle && move) {
      const { change, events, from, now } = move;
      const values = { uid, ...settleValues(settle), from: [...from], state: change.state, accountId: change.accountId, factor: change.factor, now, events: JSON.stringify(events.map((e) => ({ type: e.type, account_id: e.accountId ?? null, client_id: e.clientId ?? null, ip: e.ip ?? null, detail: e.detail ?? {} }))) };
      const row = (await lockSettlingMoving.execute(this.#db, values)).rows[0];
      if (row?.moved) this.#told?.audit.announce(events);
      return row;
    }
    if (settle) return (await lockSettling.execute(this.#db, { uid, ...settleValues(settle) })).rows[0];
    return this.#db
      .selectFrom('login_flow')
      .select(['state', 'method', 'account_id', 'factor', 'enrollment_id'])
      .where('uid', '=', uid)
      .forUpdate()
      .executeTakeFirst();
  }

  /**
   * Moves a live flow from one of `from` in one conditional statement; false when it was
   * elsewhere, or is over (past its time, or an RP's flow whose interaction is gone): a step
   * may then move it without reading it first, and read it only to say why it did not.
   */
  async advance(uid: string, from: string[], change: FlowChange, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('login_flow')
      .set(flowChange(change, now))
      .where('uid', '=', uid)
      .where('state', 'in', from)
      .where('expires_at', '>', now)
      .where((eb) =>
        eb.or([
          eb('kind', '=', 'portal'),
          eb.exists(eb.selectFrom('oidc_payload').select('oidc_payload.id').where('oidc_payload.model', '=', 'Interaction').where('oidc_payload.id', '=', uid).where('oidc_payload.expires_at', '>', now)),
        ]),
      )
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async state(uid: string): Promise<string | undefined> {
    return (await this.#db.selectFrom('login_flow').select('state').where('uid', '=', uid).executeTakeFirst())?.state;
  }

  /** Moves the flow on; `events`, the step's audit events, are recorded in the same statement. */
  async update(uid: string, change: FlowChange, now: Date, events: readonly AuditEvent[] = []): Promise<void> {
    if (events.length === 0) {
      await this.#db.updateTable('login_flow').set(flowChange(change, now)).where('uid', '=', uid).execute();
      return;
    }
    await this.#db
      .with('audited', (db) => db.insertInto('audit_event').values(auditRows(events, now)))
      .updateTable('login_flow')
      .set(flowChange(change, now))
      .where('uid', '=', uid)
      .execute();
    this.#told?.audit.announce(events);
  }

  /**
   * Ends the sign-in in one statement (src/db/repositories/sign-in-finish.ts): the RP's result
   * stored, the flow done, the account's language, the audit events, a mail, a right answer's
   * throttle bookkeeping. `answer`: the result's answer (where to resume); `done`: false when the
   * flow was not there to finish (gone, or, with `from`, moved on), and nothing but the throttle's
   * bookkeeping was written.
   */
  async finish(write: FinishWrite): Promise<{ answer: string | null; done: boolean }> {
    const finished = await finishSignIn(this.#db, write);
    if (finished.done) {
      this.#told?.audit.announce(write.events);
      if (write.mail) this.#told?.outbox.announce();
    }
    return finished;
  }

  /** An account's sign-ins in progress (it was disabled or removed). */
  async removeForAccount(accountId: string): Promise<void> {
    await this.#db.deleteFrom('login_flow').where('account_id', '=', accountId).execute();
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('login_flow').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function flowChange(change: FlowChange, now: Date) {
  return {
    state: change.state,
    ...(change.method !== undefined && { method: change.method }),
    ...(change.accountId !== undefined && { account_id: change.accountId }),
    ...(change.factor !== undefined && { factor: change.factor }),
    ...(change.enrollmentId !== undefined && { enrollment_id: change.enrollmentId }),
    ...(change.guard !== undefined && { guard: change.guard }),
    updated_at: now,
  };
}

