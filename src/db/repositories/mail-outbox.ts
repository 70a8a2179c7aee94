import { type QueryCreator, sql } from 'kysely';
import type { Db } from '../database.ts';
import type { Database } from '../schema.ts';
import type { Effects } from '../unit-of-work.ts';

export interface ClaimedMail {
  id: string;
  recipient: string;
  messageSealed: string;
  attempts: number;
}

/**
 * The transactional outbox: a mail is queued in the same unit of work as what caused it (a code
 * and its mail commit together or not at all). A mail is claimed by pushing its next attempt
 * past a lease, in one statement over rows locked FOR UPDATE SKIP LOCKED, so two replicas never
 * claim the same mail; a replica that dies mid-send leaves it to be retried after the lease.
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

  async enqueue(mail: { recipient: string; messageSealed: string; now: Date }): Promise<void> {
    await this.#db
      .insertInto('mail_outbox')
      .values({ recipient: mail.recipient, message_sealed: mail.messageSealed, created_at: mail.now, next_attempt_at: mail.now })
      .execute();
    this.#effects.afterCommit(this.#onQueued);
  }

  /**
   * Claims the next due mail: its next attempt moves past the lease. With `sent`, that mail is
   * first recorded as sent, in the same statement (a sender's pass costs one statement per mail).
   * A sent mail's sealed body is dropped (it may hold a code); the row stays as a record.
   */
  async claimNext(now: Date, leaseSeconds: number, sent?: string): Promise<ClaimedMail | undefined> {
    let due = this.#db
      .selectFrom('mail_outbox')
      .select('id')
      .where('sent_at', 'is', null)
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(1)
      .forUpdate()
      .skipLocked();
    // The statement's snapshot does not see the mail being marked sent: never claim it again.
    if (sent !== undefined) due = due.where('id', '!=', sent);
    const claim = (db: QueryCreator<Database>) =>
      db
        .updateTable('mail_outbox')
        .set({ next_attempt_at: new Date(now.getTime() + leaseSeconds * 1000), attempts: sql`attempts + 1` })
        .where('id', 'in', due)
        .where('message_sealed', 'is not', null)
        .returning(['id', 'recipient', 'message_sealed', 'attempts'])
        .executeTakeFirst();
    // (The CTE only adds a name to the tables the claim may use; it uses none of it.)
    const row = await claim(
      sent === undefined
        ? this.#db
        : (this.#db.with('sent', (db) =>
            db.updateTable('mail_outbox').set({ sent_at: now, message_sealed: null, last_error: null }).where('id', '=', sent).where('sent_at', 'is', null),
          ) as unknown as QueryCreator<Database>),
    );
    return row && { id: row.id, recipient: row.recipient, messageSealed: row.message_sealed!, attempts: row.attempts };
  }

  /**
   * Not sent: try again at `retryAt`. `attempts` is the failed claim's: a sender whose lease
   * was taken over by another does not reschedule the other's claim.
   */
  async markFailed(id: string, attempts: number, error: string, retryAt: Date): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({ last_error: error.slice(0, 500), next_attempt_at: retryAt })
      .where('id', '=', id)
      .where('attempts', '=', attempts)
      .where('sent_at', 'is', null)
      .execute();
  }

  async pendingCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('mail_outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('sent_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
