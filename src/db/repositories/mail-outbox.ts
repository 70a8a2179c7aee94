import { type Kysely, type QueryCreator, sql } from 'kysely';
import { notifyChange } from '../change-feed.ts';
import type { Db } from '../database.ts';
import { type Placeholders, Prepared } from '../prepared.ts';
import type { Database } from '../schema.ts';
import type { Effects } from '../unit-of-work.ts';

export interface ClaimedMail {
  id: string;
  recipient: string;
  /** Null when `withdrawn`. */
  messageSealed: string | null;
  /** The claim's number: a later claim of the same mail (after this lease ran out) has a higher one. */
  attempts: number;
  refusals: number;
  /** Its code was no longer live: the claim withdrew it, and it must not be sent. */
  withdrawn: boolean;
}

/** A lease of `seconds` from now, on the database's clock. */
function lease(seconds: number) {
  return sql<Date>`now() + ${seconds} * interval '1 second'`;
}

/** The change-feed kind of "the mail server is up|down", as one replica found it. */
export const MAIL_CHANGE = 'mail_server';

/**
 * The transactional outbox: a mail is queued in the same unit of work as what caused it (a code
 * and its mail commit together or not at all). A mail is claimed with a short lease, in one
 * statement over rows locked FOR UPDATE SKIP LOCKED, so two replicas never claim the same mail;
 * the sender renews the lease while it works on the mail, so a replica that dies mid-send leaves
 * it to another within one lease. Leases run on the database's clock (now()), so that replicas
 * whose clocks differ agree on when one ends; back-offs and code lifetimes on kapu's clock. The
 * claim keeps the rules that must hold whichever replica sends:
 * - mails to one address leave in the order they were queued: a mail waits while an older mail
 *   to the same address is unsent (being sent, or waiting for the server), unless the server
 *   refused that older mail by itself (it then no longer holds up the line);
 * - a code mail is sent only while its code is live (not replaced, used or expired): otherwise
 *   the claim withdraws it, dropping its body.
 */
export class MailOutboxRepository {
  readonly #db: Db;
  readonly #effects: Effects;
  readonly #onQueued: () => void;

  /** `onQueued` runs once the queued mail is committed (it wakes the local sender). */
  constructor(db: Db, effects: Effects, onQueued: () => void = () => {}) {
    this.#db = db;
    this.#effects = effects;
    this.#onQueued = onQueued;
  }

  /** Queues a mail; `codeId` names the one-time code it carries, if any. */
  async enqueue(mail: { recipient: string; messageSealed: string; now: Date; codeId?: string }): Promise<void> {
    await this.#db
      .insertInto('mail_outbox')
      .values({ recipient: mail.recipient, message_sealed: mail.messageSealed, created_at: mail.now, next_attempt_at: mail.now, code_id: mail.codeId ?? null })
      .execute();
    this.announce();
  }

  /** A mail another repository's statement queued in this unit of work: the sender wakes once it commits. */
  announce(): void {
    this.#effects.afterCommit(this.#onQueued);
  }

  /**
   * Claims the next mail whose turn it is, for `leaseSeconds`. With `sent`,
   * that mail is first recorded as sent, in the same statement (a sender's pass costs one
   * statement per mail). A sent mail's sealed body is dropped (it may hold a code); the row stays
   * as a record. A code mail whose code is no longer live comes back `withdrawn`.
   */
  async claimNext(now: Date, leaseSeconds: number, sent?: string): Promise<ClaimedMail | undefined> {
    const { rows } = sent === undefined ? await claimOnly.execute(this.#db, { now, leaseSeconds }) : await sentAndClaim.execute(this.#db, { now, leaseSeconds, sent });
    const row = rows[0];
    return (
      row && {
        id: row.id,
        recipient: row.recipient,
        messageSealed: row.message_sealed,
        attempts: row.attempts,
        refusals: row.refusals,
        withdrawn: row.withdrawn_at !== null,
      }
    );
  }

  /**
   * The sender is still working on the mail: its lease runs `leaseSeconds` from now. False when
   * the claim is no longer this sender's (the lease ran out and another claimed the mail).
   */
  async renew(mail: Pick<ClaimedMail, 'id' | 'attempts'>, leaseSeconds: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('mail_outbox')
      .set({ leased_until: lease(leaseSeconds) })
      .where('id', '=', mail.id)
      .where('attempts', '=', mail.attempts)
      .where('sent_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Not sent because the mail server could not be reached: the mail keeps its place in line and
   * is due again at once (senders wait for the server, not for the mail). Only the sender's own
   * claim is released: a sender whose lease was taken over does not touch the other's.
   */
  async release(mail: Pick<ClaimedMail, 'id' | 'attempts'>, error: string, now: Date): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({ last_error: error.slice(0, 500), next_attempt_at: now, leased_until: null })
      .where('id', '=', mail.id)
      .where('attempts', '=', mail.attempts)
      .where('sent_at', 'is', null)
      .execute();
  }

  /**
   * The server answered and refused this mail: try again at `retryAt`. From now on it no longer
   * holds up later mails to its address (they may well be accepted).
   */
  async markRefused(mail: Pick<ClaimedMail, 'id' | 'attempts'>, error: string, retryAt: Date): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({ last_error: error.slice(0, 500), next_attempt_at: retryAt, leased_until: null, refusals: sql`refusals + 1` })
      .where('id', '=', mail.id)
      .where('attempts', '=', mail.attempts)
      .where('sent_at', 'is', null)
      .execute();
  }

  /**
   * Milliseconds until the next unsent mail may fall due (a back-off or a lease ends), if any
   * will: a sender with nothing to do looks again then.
   */
  async msUntilNextDue(now: Date): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('mail_outbox')
      .select([
        sql<Date | null>`min(next_attempt_at) filter (where next_attempt_at > ${now})`.as('retry'),
        sql<number | null>`(extract(epoch from min(leased_until) filter (where leased_until > now()) - now()) * 1000)::float8`.as('lease_ms'),
      ])
      .where('sent_at', 'is', null)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirstOrThrow();
    const waits = [row.retry && row.retry.getTime() - now.getTime(), row.lease_ms].filter((ms): ms is number => typeof ms === 'number');
    return waits.length > 0 ? Math.max(0, Math.min(...waits)) : undefined;
  }

  /**
   * Tells every replica's sender (this one's too), through the change feed, that the mail
   * server was found `state`: each one looks for itself at once.
   */
  async wakeAll(state: 'up' | 'down'): Promise<void> {
    await notifyChange(this.#db, { kind: MAIL_CHANGE, id: state });
  }

  async pendingCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('mail_outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('sent_at', 'is', null)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

// The claim, built and compiled once for each of its two shapes (src/db/prepared.ts): every
// mail costs one, and it is the outbox's largest statement.

type ClaimValues = { now: Date; leaseSeconds: number; sent?: string };

function claimQuery(db: Kysely<Database>, p: Placeholders<ClaimValues>) {
  const { now, leaseSeconds, sent } = p;
  let due = db
    .selectFrom('mail_outbox as m')
    .select('m.id')
    .where('m.sent_at', 'is', null)
    .where('m.withdrawn_at', 'is', null)
    .where('m.next_attempt_at', '<=', now)
    .where('m.message_sealed', 'is not', null)
    .where((eb) => eb.or([eb('m.leased_until', 'is', null), eb('m.leased_until', '<=', sql<Date>`now()`)]))
    .where(({ not, exists, selectFrom }) => {
      let older = selectFrom('mail_outbox as o')
        .select(sql.lit(1).as('one'))
        .whereRef('o.recipient', '=', 'm.recipient')
        .whereRef('o.id', '<', 'm.id')
        .where('o.sent_at', 'is', null)
        .where('o.withdrawn_at', 'is', null)
        .where('o.refusals', '=', 0);
      // The statement's snapshot does not see the mail being marked sent: it holds up nothing.
      if (sent !== undefined) older = older.where('o.id', '!=', sent);
      return not(exists(older));
    })
    .orderBy('m.id')
    .limit(1)
    .forUpdate()
    .skipLocked();
  // The statement's snapshot does not see the mail being marked sent: never claim it again.
  if (sent !== undefined) due = due.where('m.id', '!=', sent);
  const dead = sql<boolean>`code_id is not null and not exists (${db
    .selectFrom('one_time_code as c')
    .select(sql.lit(1).as('one'))
    .where('c.id', '=', sql.ref<string>('mail_outbox.code_id'))
    .where('c.superseded_at', 'is', null)
    .where('c.used_at', 'is', null)
    .where('c.expires_at', '>', now)})`;
  // (The CTE only adds a name to the tables the claim may use; it uses none of it.)
  const from: QueryCreator<Database> =
    sent === undefined
      ? db
      : (db.with('sent', (d) =>
          d
            .updateTable('mail_outbox')
            .set({ sent_at: now, message_sealed: null, last_error: null, leased_until: null })
            .where('id', '=', sent)
            .where('sent_at', 'is', null)
            .where('withdrawn_at', 'is', null),
        ) as unknown as QueryCreator<Database>);
  return from
    .updateTable('mail_outbox')
    .set({
      leased_until: lease(leaseSeconds),
      attempts: sql`attempts + 1`,
      withdrawn_at: sql`case when ${dead} then ${now}::timestamptz end`,
      message_sealed: sql`case when ${dead} then null else message_sealed end`,
    })
    .where('id', 'in', due)
    .returning(['id', 'recipient', 'message_sealed', 'attempts', 'refusals', 'withdrawn_at']);
}

const claimOnly = new Prepared((db: Kysely<Database>, p: Placeholders<{ now: Date; leaseSeconds: number }>) => claimQuery(db, p));
const sentAndClaim = new Prepared((db: Kysely<Database>, p: Placeholders<{ now: Date; leaseSeconds: number; sent: string }>) => claimQuery(db, p));
