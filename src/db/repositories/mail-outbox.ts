import { sql } from 'kysely';
import type { Db } from '../database.ts';

export interface ClaimedMail {
  id: string;
  recipient: string;
  messageSealed: string;
  attempts: number;
}

/**
 * The transactional outbox. A mail is claimed by pushing its next attempt into the future inside
 * a FOR UPDATE SKIP LOCKED transaction, so two replicas never claim the same mail; a replica that
 * dies mid-send leaves it to be retried after the lease.
 */
export class MailOutboxRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async enqueue(mail: { recipient: string; messageSealed: string; now: Date }): Promise<string> {
    const row = await this.#db
      .insertInto('mail_outbox')
      .values({ recipient: mail.recipient, message_sealed: mail.messageSealed, created_at: mail.now, next_attempt_at: mail.now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async claim(now: Date, leaseSeconds: number, limit: number): Promise<ClaimedMail[]> {
    return this.#db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('mail_outbox')
        .select(['id', 'recipient', 'message_sealed', 'attempts'])
        .where('sent_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      if (due.length === 0) return [];
      await trx
        .updateTable('mail_outbox')
        .set({ next_attempt_at: new Date(now.getTime() + leaseSeconds * 1000), attempts: sql`attempts + 1` })
        .where('id', 'in', due.map((d) => d.id))
        .execute();
      return due
        .filter((d) => d.message_sealed !== null)
        .map((d) => ({ id: d.id, recipient: d.recipient, messageSealed: d.message_sealed!, attempts: d.attempts + 1 }));
    });
  }

  /** Sent: the sealed body is dropped (it may hold a code); the row stays as a record. */
  async markSent(id: string, now: Date): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({ sent_at: now, message_sealed: null, last_error: null })
      .where('id', '=', id)
      .where('sent_at', 'is', null)
      .execute();
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
