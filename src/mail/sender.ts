/**
 * Delivers the outbox over a nodemailer transport. Runs on every replica; the repository's
 * claim makes sure each mail is taken by one replica at a time, in order for each address, and
 * never a code mail whose code is no longer live. An SMTP outage only delays mail: while the
 * server does not answer, nothing is claimed (SmtpStatus probes it), and once it answers every
 * replica's sender is woken and the mail leaves at once, in the order it was queued. A mail the
 * server refuses by itself is retried with growing back-off, without end; nothing is dropped.
 */
import type { Logger } from 'pino';
import type { SendMailOptions, Transporter } from 'nodemailer';
import { type Clock, withTimeout } from '../clock.ts';
import type { ClaimedMail, MailOutboxRepository } from '../db/repositories/mail-outbox.ts';
import { NOBODY } from './mailer.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';
import { type SmtpStatus, describe } from './smtp-status.ts';

export interface SenderOptions {
  from: string;
  /** Idle passes: the sender looks for due mail at least this often (it is woken for new mail). */
  pollMs: number;
  /** A claim's lease; renewed every third of it while the mail is being sent. */
  leaseSeconds: number;
  /** Mails sent at once (over the transport's pooled connections); a burst waits less. */
  lanes?: number;
}

/** What the sender uses of the outbox. */
export type OutboxQueue = Pick<MailOutboxRepository, 'claimNext' | 'renew' | 'release' | 'markRefused' | 'msUntilNextDue'>;

/** A send cancelled because the sender no longer holds the mail's claim. */
class ClaimLost extends Error {}

/** One send's bound, whatever the transport's own timeouts: the connection is closed then. */
const SEND_TIMEOUT_MS = 60_000;

export class OutboxSender {
  readonly #repo: OutboxQueue;
  readonly #transport: Transporter;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #smtp: SmtpStatus | undefined;
  readonly #options: SenderOptions;
  readonly #lanes = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #again = false;
  #stopped = true;
  /** Whether the last pass claimed anything (if not, the next look waits for what falls due). */
  #idle = false;

  /** Without `smtp`, the server is taken to answer, and every failed send is the mail's own. */
  constructor(deps: { repo: OutboxQueue; transport: Transporter; box: SecretBox; clock: Clock; log: Logger; smtp?: SmtpStatus }, options: SenderOptions) {
    this.#repo = deps.repo;
    this.#transport = deps.transport;
    this.#box = deps.box;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#smtp = deps.smtp;
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#smtp?.start();
    this.kick();
  }

  /**
   * Mail is waiting: a lane starts sending at once, unless all lanes are busy (they will find
   * it: each lane claims until nothing is due; the flag makes sure a lane looks once more) or
   * the mail server is away (the sender is woken when it answers).
   */
  kick(): void {
    if (this.#stopped) return;
    if (this.#smtp?.state === 'down') return;
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
          this.#rest();
        }
      });
    this.#lanes.add(lane);
  }

  /** Every lane looks for mail now (the mail server answers again, or another replica says so). */
  wake(): void {
    for (let i = 0; i < (this.#options.lanes ?? 1); i += 1) this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.all([...this.#lanes, this.#smtp?.stop()]);
  }

  /**
   * One lane's pass: claims mail one at a time, right before sending it, and records each sent
   * mail together with the next claim. Returns how many were sent. The pass ends when no mail's
   * turn has come, or when the mail server does not answer (the mail goes back to the queue).
   */
  async deliverDue(): Promise<number> {
    let sent = 0;
    let claimed = 0;
    let done: string | undefined;
    for (let mail = await this.#claim(done); mail; mail = await this.#claim(done)) {
      done = undefined;
      claimed += 1;
      if (mail.withdrawn) {
        this.#log.info({ mailId: mail.id }, 'code mail withdrawn: its code was replaced, used or expired before it could leave');
        continue;
      }
      if (mail.recipient === NOBODY) {
        // A stand-in (see NOBODY): claimed and recorded as a sent mail is, the same statements,
        // and never sent.
        done = mail.id;
        continue;
      }
      try {
        await this.#send(mail);
        done = mail.id;
        sent += 1;
        this.#log.info({ mailId: mail.id }, 'mail sent');
      } catch (err) {
        if (err instanceof ClaimLost) {
          // Another sender holds the mail now (or may): it is theirs to send and record.
          this.#log.warn({ mailId: mail.id, err: err.message }, 'mail send cancelled: its claim was lost');
          continue;
        }
        if (await this.#refusedByServer(err)) {
          const backoff = Math.min(60 * 60, 5 * 2 ** Math.min(mail.refusals, 10));
          await this.#repo.markRefused(mail, describe(err), new Date(this.#clock.now().getTime() + backoff * 1000));
          this.#log.warn({ mailId: mail.id, refusals: mail.refusals + 1, retryInSeconds: backoff, err: describe(err) }, 'mail not accepted by the mail server; will retry');
        } else {
          // The server is away (SmtpStatus said so, once): the mail keeps its place and waits.
          await this.#repo.release(mail, describe(err), this.#clock.now());
          break;
        }
      }
    }
    this.#idle = claimed === 0;
    return sent;
  }

  /**
   * Sends one claimed mail, renewing its lease every third of it. Should the lease be lost (the
   * renewals failed until it would run out, or another replica holds the mail), the send is
   * cancelled, closing its connection: another replica may send the mail now, and this one
   * must not complete it too.
   */
  async #send(mail: ClaimedMail): Promise<void> {
    const message = JSON.parse(this.#box.openText(mail.messageSealed!, AAD.outbox)) as { subject: string; text: string; html: string };
    const { leaseSeconds } = this.#options;
    const lost = new AbortController();
    // Renewals that failed in a row: after two, less than a third of the lease may be left.
    let failed = 0;
    const beat = setInterval(() => {
      this.#repo.renew(mail, leaseSeconds).then(
        (ours) => {
          failed = 0;
          if (!ours) lost.abort(new Error('the mail was claimed by another sender'));
        },
        () => {
          // The database did not answer: give up before the lease can run out under us.
          failed += 1;
          if (failed >= 2) lost.abort(new Error('the lease could not be renewed'));
        },
      );
    }, (leaseSeconds * 1000) / 3);
    const options: SendMailOptions & { signal: AbortSignal } = {
      from: this.#options.from,
      to: mail.recipient,
      ...message,
      signal: AbortSignal.any([lost.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]),
    };
    try {
      await withTimeout(this.#transport.sendMail(options), SEND_TIMEOUT_MS + 1_000, 'SMTP send');
    } catch (err) {
      if (lost.signal.aborted) throw new ClaimLost(describe(lost.signal.reason));
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * Is the failure the mail's own? The server answered and refused this mail (a recipient or a
   * message it will not take). Anything else — no answer, a dropped connection, "service not
   * available", a failed login — is asked of the server itself: a probe that fails means the
   * server is away; one that succeeds leaves the mail to its back-off, so that no mail is tried
   * again and again at once.
   */
  async #refusedByServer(err: unknown): Promise<boolean> {
    const { responseCode, code } = err as { responseCode?: unknown; code?: unknown };
    if (typeof responseCode === 'number' && responseCode >= 450 && responseCode !== 421 && code !== 'EAUTH') return true;
    return this.#smtp ? this.#smtp.probe() : true;
  }

  /** No lane is busy: look again when the next mail falls due (a lease or back-off ends), or after pollMs. */
  #rest(): void {
    clearTimeout(this.#timer);
    const poll = this.#options.pollMs;
    const schedule = (ms: number) => {
      if (this.#stopped || this.#lanes.size > 0) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.kick(), Math.max(0, Math.min(ms, poll)));
      this.#timer.unref();
    };
    schedule(poll);
    // A pass that claimed nothing may have found mail leased by a replica that died: look again
    // as soon as that lease ends rather than a whole poll later.
    if (!this.#idle) return;
    this.#repo.msUntilNextDue(this.#clock.now()).then(
      (ms) => {
        if (ms !== undefined) schedule(ms + 5);
      },
      () => {},
    );
  }

  #claim(sent: string | undefined) {
    return this.#repo.claimNext(this.#clock.now(), this.#options.leaseSeconds, sent);
  }
}
