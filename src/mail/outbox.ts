/**
 * Queues mail in the transactional outbox. The message (which may hold a one-time code) is
 * sealed at rest and dropped once sent.
 */
import type { Db } from '../db/database.ts';
import { MailOutboxRepository } from '../db/repositories/mail-outbox.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}


export class MailOutbox {
  readonly #box: SecretBox;
  readonly #onQueued: () => void;

  /** `onQueued` wakes the local sender so mail goes out at once instead of at the next poll. */
  constructor(box: SecretBox, onQueued: () => void) {
    this.#box = box;
    this.#onQueued = onQueued;
  }

  /** Queues `message` using `db`, which may be a transaction (the caller's unit of work). */
  async enqueue(db: Db, message: MailMessage, now: Date): Promise<void> {
    const { to, subject, text, html } = message;
    await new MailOutboxRepository(db).enqueue({
      recipient: to,
      messageSealed: this.#box.seal(JSON.stringify({ subject, text, html }), AAD.outbox),
      now,
    });
  }

  /** Call after the enqueuing transaction committed. */
  queued(): void {
    this.#onQueued();
  }
}
