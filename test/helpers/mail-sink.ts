/**
 * A real SMTP server inside the test (smtp-server + mailparser). Tests read codes and tags
 * from the mail they receive, as a citizen would. It can also fail the way a mail server does:
 * refuse messages while it answers (`refuse`), go away and come back on the same port
 * (`outage`, `restore`), or hang in the middle of a delivery (`holdNext`).
 */
import type { AddressInfo, Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** When the message was accepted (Date.now()). */
  at: number;
}

export class MailSink {
  readonly received: ReceivedMail[] = [];
  #waiters: Array<{ predicate: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }> = [];
  #server: SMTPServer;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  #hold: (() => void) | null = null;
  /** While true, the server answers but refuses every message (451). */
  refuse = false;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        if (this.#hold) {
          // Never answered: the client waits until its connection dies, and the message is
          // not accepted (a server that hangs mid-delivery, or a client killed meanwhile).
          const held = this.#hold;
          this.#hold = null;
          stream.resume();
          stream.on('end', held);
          return;
        }
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
              at: Date.now(),
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      },
    });
  }

  async start(): Promise<this> {
    this.#server.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.#port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  /**
   * The server goes away, as a crashed or unplugged one does: its port is closed (a connection
   * is refused) and every open connection is cut at once, without a goodbye.
   */
  async outage(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** The server is back on the same port. */
  async restore(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.server.once('error', reject);
      this.#server.server.listen(this.#port, '127.0.0.1', () => {
        this.#server.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * The next message's data is taken in but never answered, and never delivered: the sender
   * hangs mid-delivery until its connection dies. Resolves once such a message has come in.
   */
  holdNext(): Promise<void> {
    return new Promise((resolve) => (this.#hold = resolve));
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

  /** Resolves with the mails once `count` have arrived after the first `since`; rejects after `timeoutMs`. */
  async arrived(count: number, since: number, timeoutMs: number): Promise<ReceivedMail[]> {
    const enough = () => this.received.length - since >= count;
    if (!enough()) {
      await this.next(enough, since, timeoutMs).catch(() => {
        throw new Error(`${this.received.length - since} of ${count} mails arrived within ${timeoutMs} ms`);
      });
    }
    return this.received.slice(since);
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
    // Connections a test left open (a held delivery, a pooled client) would keep it waiting.
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}

/** The 3-digit session tag and 6-digit code of a sign-in mail, read from its text. */
export function readCodeMail(mail: ReceivedMail): { tag: string; code: string } {
  const tag = /(?:Munkamenet-azonosító|Session ID): (\d{3})/.exec(mail.text)?.[1];
  const code = /(?:Hitelesítő kód|Sign-in code): (\d{6})/.exec(mail.text)?.[1];
  if (!tag || !code) throw new Error(`not a code mail: ${mail.subject}`);
  return { tag, code };
}
