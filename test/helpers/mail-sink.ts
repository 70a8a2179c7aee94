/**
 * A real SMTP server inside the test (smtp-server + mailparser). Tests read codes and tags
 * from the mail they receive, as a citizen would.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

export class MailSink {
  readonly received: ReceivedMail[] = [];
  #waiters: Array<{ predicate: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }> = [];
  #server: SMTPServer;
  #port = 0;
  /** While true, the server refuses every message (an SMTP outage). */
  refuse = false;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        if (this.refuse) {
          stream.resume();
          stream.on('end', () => callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 451 })));
          return;
        }
        simpleParser(stream)
          .then((parsed) => {
            const to = Array.isArray(parsed.to) ? parsed.to.map((a) => a.text).join(', ') : (parsed.to?.text ?? '');
            this.#deliver({
              to,
              from: parsed.from?.text ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.#port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.#port}`;
  }

  /** Resolves with the next mail (received after `since` mails) matching the predicate. */
  next(predicate: (m: ReceivedMail) => boolean = () => true, since = this.received.length, timeoutMs = 15_000): Promise<ReceivedMail> {
    const already = this.received.slice(since).find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no mail arrived')), timeoutMs);
      this.#waiters.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  #deliver(mail: ReceivedMail): void {
    this.received.push(mail);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.predicate(mail)) return true;
      w.resolve(mail);
      return false;
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The 3-digit session tag and 6-digit code of a sign-in mail, read from its text. */
export function readCodeMail(mail: ReceivedMail): { tag: string; code: string } {
  const tag = /(?:Munkamenet-azonosító|Session ID): (\d{3})/.exec(mail.text)?.[1];
  const code = /(?:Hitelesítő kód|Sign-in code): (\d{6})/.exec(mail.text)?.[1];
  if (!tag || !code) throw new Error(`not a code mail: ${mail.subject}`);
  return { tag, code };
}
