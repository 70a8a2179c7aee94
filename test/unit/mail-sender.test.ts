/**
 * The outbox sender with a claim it holds (issue 16, item 3), over an in-memory outbox and a
 * mail server the test drives, with time moved by the test: the claim is renewed while a send
 * lasts and the send is cancelled once the claim is lost; a server that is away gets no mail
 * (the mail keeps its place), a mail the server refused waits its back-off, and a withdrawn
 * code mail is never sent. What the claim itself guarantees is in
 * test/integration/mail-outbox.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Transporter } from 'nodemailer';
import type { ClaimedMail } from '../../src/db/repositories/mail-outbox.ts';
import { OutboxSender, type OutboxQueue } from '../../src/mail/sender.ts';
import { SmtpStatus } from '../../src/mail/smtp-status.ts';
import { AAD, SecretBox } from '../../src/security/secret-box.ts';
import { captureLog } from '../helpers/captured-log.ts';

const LEASE_SECONDS = 9;
const box = new SecretBox([{ id: 't', key: randomBytes(32) }]);
const clock = { now: () => new Date(Date.now()) };

/** An outbox holding `mails`, handing them out in order; it notes what the sender did with each. */
function outbox(mails: Array<Partial<ClaimedMail>>) {
  const queue: ClaimedMail[] = mails.map((m, i) => ({
    id: String(i + 1),
    recipient: `polgar${i + 1}@example.hu`,
    messageSealed: box.seal(JSON.stringify({ subject: `levél ${i + 1}`, text: 'szöveg', html: '<p>szöveg</p>' }), AAD.outbox),
    attempts: 1,
    refusals: 0,
    withdrawn: false,
    ...m,
  }));
  const seen = { claims: 0, sent: [] as string[], renewals: 0, released: [] as string[], refused: [] as Array<{ id: string; inSeconds: number }> };
  let renewal: () => Promise<boolean> = async () => true;
  const repo: OutboxQueue = {
    claimNext: async (_now, _lease, sent) => {
      seen.claims += 1;
      if (sent) seen.sent.push(sent);
      return queue.shift();
    },
    renew: () => {
      seen.renewals += 1;
      return renewal();
    },
    release: async (mail) => void seen.released.push(mail.id),
    markRefused: async (mail, _error, retryAt) => void seen.refused.push({ id: mail.id, inSeconds: (retryAt.getTime() - Date.now()) / 1000 }),
    msUntilNextDue: async () => undefined,
  };
  return { repo, queue, seen, renewWith: (fn: () => Promise<boolean>) => (renewal = fn) };
}

/** A mail server the test answers for: each send waits until the test settles it (or it is cancelled). */
function mailServer() {
  const sends: Array<{ to: string; signal: AbortSignal; accept: () => void; fail: (err: Error) => void }> = [];
  const transport = {
    sendMail: (options: { to: string; signal: AbortSignal }) =>
      new Promise((resolve, reject) => {
        options.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { code: 'EABORT' })));
        sends.push({ to: options.to, signal: options.signal, accept: () => resolve({}), fail: reject });
      }),
  } as unknown as Transporter;
  return { transport, sends };
}

function sender(repo: OutboxQueue, transport: Transporter, smtp?: SmtpStatus) {
  return new OutboxSender({ repo, transport, box, clock, log: captureLog().log, ...(smtp && { smtp }) }, { from: 'kapu <no-reply@example.hu>', pollMs: 60_000, leaseSeconds: LEASE_SECONDS });
}

describe('the outbox sender', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-12-07T10:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('renews its claim every third of the lease while the server takes its time, and no more once the mail is sent', async () => {
    const { repo, seen } = outbox([{}]);
    const server = mailServer();
    const pass = sender(repo, server.transport).deliverDue();
    await jest.advanceTimersByTimeAsync(LEASE_SECONDS * 1000 * 2);
    expect(seen.renewals).toBe(6);
    server.sends[0]!.accept();
    expect(await pass).toBe(1);
    await jest.advanceTimersByTimeAsync(LEASE_SECONDS * 1000 * 2);
    expect([seen.renewals, seen.sent]).toEqual([6, ['1']]);
  });

  test('cancels the send once its claim is lost: to another sender, or to two renewals in a row the database did not answer', async () => {
    for (const lose of [async () => false, async () => Promise.reject(new Error('database unreachable'))]) {
      const { repo, seen, renewWith } = outbox([{}]);
      renewWith(lose);
      const server = mailServer();
      const pass = sender(repo, server.transport).deliverDue();
      await jest.advanceTimersByTimeAsync(((LEASE_SECONDS * 1000) / 3) * 2);
      expect(server.sends[0]!.signal.aborted).toBe(true);
      expect(await pass).toBe(0);
      // Not the mail's fault, nor the server's: it is left to whoever holds it now.
      expect([seen.sent, seen.released, seen.refused]).toEqual([[], [], []]);
    }
  });

  test('with the server away the mail goes back to its place, and nothing more is claimed until the server answers', async () => {
    const { repo, seen } = outbox([{}, {}]);
    const server = mailServer();
    let answers = false;
    const smtp = new SmtpStatus({ probe: async () => (answers ? undefined : Promise.reject(new Error('connect ECONNREFUSED'))), log: captureLog().log });
    const mail = sender(repo, server.transport, smtp);
    const pass = mail.deliverDue();
    await jest.advanceTimersByTimeAsync(0);
    server.sends[0]!.fail(Object.assign(new Error('connect ECONNREFUSED 192.0.2.25:25'), { code: 'ESOCKET' }));
    expect(await pass).toBe(0);
    expect([seen.released, seen.refused, seen.claims, smtp.state]).toEqual([['1'], [], 1, 'down']);

    mail.start();
    mail.kick();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen.claims).toBe(1);

    answers = true;
    expect(await smtp.probe()).toBe(true);
    mail.wake();
    await jest.advanceTimersByTimeAsync(0);
    expect(server.sends).toHaveLength(2);
    server.sends[1]!.accept();
    await mail.stop();
  });

  test('a mail the server refused by itself waits a growing back-off, and the server is not probed for it', async () => {
    const { repo, seen } = outbox([{ refusals: 0 }, { refusals: 3 }]);
    const server = mailServer();
    let probes = 0;
    const smtp = new SmtpStatus({ probe: async () => void (probes += 1), log: captureLog().log });
    const pass = sender(repo, server.transport, smtp).deliverDue();
    for (const i of [0, 1]) {
      await jest.advanceTimersByTimeAsync(0);
      server.sends[i]!.fail(Object.assign(new Error('550 mailbox unavailable'), { responseCode: 550 }));
    }
    expect(await pass).toBe(0);
    expect([seen.refused, probes]).toEqual([[{ id: '1', inSeconds: 5 }, { id: '2', inSeconds: 40 }], 0]);
  });

  test('a withdrawn code mail is not sent', async () => {
    const { repo, seen } = outbox([{ withdrawn: true, messageSealed: null }, {}]);
    const server = mailServer();
    const pass = sender(repo, server.transport).deliverDue();
    await jest.advanceTimersByTimeAsync(0);
    expect(server.sends.map((s) => s.to)).toEqual(['polgar2@example.hu']);
    server.sends[0]!.accept();
    expect(await pass).toBe(1);
    expect(seen.sent).toEqual(['2']);
  });
});
