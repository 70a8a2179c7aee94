/**
 * Development mailbox: without SMTP_URL (never in production) mail is kept in memory and shown
 * at /dev/mailbox, so a newcomer can read the codes kapu sends.
 */
import type { Transporter } from 'nodemailer';
import nodemailer from 'nodemailer';

export interface DevMail {
  id: number;
  at: Date;
  to: string;
  subject: string;
  text: string;
}

export class DevMailbox {
  readonly #mails: DevMail[] = [];
  #next = 1;
  readonly #limit: number;

  constructor(limit = 50) {
    this.#limit = limit;
  }

  /** A nodemailer transport (custom transport object) that delivers here. */
  transport(): Transporter {
    return nodemailer.createTransport({
      name: 'kapu-dev-mailbox',
      version: '1',
      send: (mail, callback) => {
        const { to, subject, text } = mail.data as { to?: unknown; subject?: unknown; text?: unknown };
        this.#mails.unshift({ id: this.#next, at: new Date(), to: String(to), subject: String(subject), text: String(text) });
        this.#mails.length = Math.min(this.#mails.length, this.#limit);
        callback(null, { envelope: mail.message.getEnvelope(), messageId: `dev-${this.#next++}` });
      },
    });
  }

  list(): readonly DevMail[] {
    return this.#mails;
  }
}
