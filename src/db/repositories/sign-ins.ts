/**
 * kapu's own flow of a sign-in (`login_flow`), keyed by the interaction uid (an RP's sign-in) or
 * a uid of its own (the account portal's): read with everything a step starts from
 * (src/db/repositories/sign-in-load.ts), locked, moved on, finished
 * (src/db/repositories/sign-in-finish.ts).
 */
import type { Db } from '../database.ts';
import type { InTransaction } from '../unit-of-work.ts';
import type { LiveCode } from './one-time-codes.ts';
import { type AuditEvent, type AuditRepository, auditRows } from './audit.ts';
import type { MailOutboxRepository } from './mail-outbox.ts';
import { type FinishWrite, finishSignIn } from './sign-in-finish.ts';
import { type Candidate, type SignInRow, loadSignIn } from './sign-in-load.ts';
import { lockSettling, lockSettlingMoving } from './sign-in-throttle.ts';
import { type Counted, type Settlement, type StepCount, settleValues } from './throttle.ts';

export type { Candidate, SignInRow };

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
  async load(uid: string, now: Date, initialState: string, candidate?: string, count?: StepCount): Promise<{ signIn: SignInRow; candidate: Candidate | null; counted?: Counted[]; code?: LiveCode | null } | undefined> {
    return loadSignIn(this.#db, uid, now, initialState, candidate, count);
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

