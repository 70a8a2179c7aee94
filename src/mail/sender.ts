/**
 * Delivers the outbox over a nodemailer transport. Runs on every replica; the repository's
 * claim makes sure each mail is taken by one replica at a time. An SMTP outage only delays
 * mail: failed sends are retried with growing back-off, without end, and nothing is dropped.
 */
import type { Logger } from 'pino';
import type { Transporter } from 'nodemailer';
import { type Clock, withTimeout } from '../clock.ts';
import type { MailOutboxRepository } from '../db/repositories/mail-outbox.ts';
import { NOBODY } from './mailer.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

export interface SenderOptions {
  from: string;
  pollMs: number;
  leaseSeconds: number;
  /** Mails sent at once (over the transport's pooled connections); a burst waits less. */
  lanes?: number;
}

export class OutboxSender {
  readonly #repo: MailOutboxRepository;
  readonly #transport: Transporter;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #options: SenderOptions;
  readonly #lanes = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #again = false;
  #stopped = true;

  constructor(deps: { repo: MailOutboxRepository; transport: Transporter; box: SecretBox; clock: Clock; log: Logger }, options: SenderOptions) {
    this.#repo = deps.repo;
    this.#transport = deps.transport;
    this.#box = deps.box;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /**
   * Mail is waiting: a lane starts sending at once, unless all lanes are busy (they will find
   * it: each lane claims until nothing is due; the flag makes sure a lane looks once more).
   */
  kick(): void {
    if (this.#stopped) return;
    if (this.#lanes.size >= (this.#options.lanes ?? 1)) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#again = false;
    const lane: Promise<void> = this.deliverDue()
      .then(() => undefined)
      .catch((err: unknown) => this.#log.error({ err }, 'mail outbox pass failed'))
      .finally(() => {
        this.#lanes.delete(lane);
        if (this.#stopped) return;
        if (this.#again) {
          this.kick();
        } else if (this.#lanes.size === 0) {
          this.#timer = setTimeout(() => this.kick(), this.#options.pollMs);
          this.#timer.unref();
        }
      });
    this.#lanes.add(lane);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.all(this.#lanes);
  }

  /** A send must end well inside its lease, or another replica could claim the mail too. */
  #sendTimeoutMs(): number {
    return this.#options.leaseSeconds * 750;
  }

  /**
   * One lane's pass: claims due mail one at a time, right before sending it — its lease (longer
   * than the SMTP timeouts) cannot run out while earlier mails are being sent — and records each
   * sent mail together with the next claim. Returns how many were sent.
   */
  async deliverDue(): Promise<number> {
    let sent = 0;
    let done: string | undefined;
    for (let mail = await this.#claim(done); mail; mail = await this.#claim(done)) {
      done = undefined;
      if (mail.recipient === NOBODY) {
        // A stand-in (see NOBODY): claimed and recorded as a sent mail is, the same statements,
        // and never sent.
        done = mail.id;
        continue;
      }
      try {
        const message = JSON.parse(this.#box.openText(mail.messageSealed, AAD.outbox)) as { subject: string; text: string; html: string };
        await withTimeout(this.#transport.sendMail({ from: this.#options.from, to: mail.recipient, ...message }), this.#sendTimeoutMs(), 'SMTP send');
        done = mail.id;
        sent += 1;
        this.#log.info({ mailId: mail.id }, 'mail sent');
      } catch (err) {
        const backoff = Math.min(60 * 60, 5 * 2 ** Math.min(mail.attempts, 10));
        const retryAt = new Date(this.#clock.now().getTime() + backoff * 1000);
        await this.#repo.markFailed(mail.id, mail.attempts, describe(err), retryAt);
        this.#log.warn({ mailId: mail.id, attempts: mail.attempts, retryInSeconds: backoff, err: describe(err) }, 'mail not sent; will retry');
      }
    }
    return sent;
  }

  #claim(sent: string | undefined) {
    return this.#repo.claimNext(this.#clock.now(), this.#options.leaseSeconds, sent);
  }
}

/** An error's class and message only: SMTP errors can echo commands, never the mail body. */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
