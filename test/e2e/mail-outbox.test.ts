import nodemailer from 'nodemailer';
import { OutboxSender } from '../../src/mail/sender.ts';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';

describe('mail through the outbox', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  beforeAll(async () => {
    mail = await new MailSink().start();
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url } });
    // These tests drive delivery passes themselves, so no background pass races them.
    await kapu.deps.sender.stop();
  });
  afterAll(async () => {
    await kapu?.close();
    await mail?.stop();
  });

  test('an SMTP outage delays the code mail but never loses it: it arrives once the server is back, and the code works', async () => {
    const { rp } = await kapu.client();
    await kapu.account('kimaradt.level', ['email']);
    mail.refuse = true;
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const since = mail.received.length;
    const page = await signInWithPassword(browser, signIn.url, 'email', 'kimaradt.level');
    expect(await kapu.deps.sender.deliverDue()).toBe(0);
    expect(mail.received.length).toBe(since);
    expect(await kapu.deps.repos.outbox.pendingCount()).toBe(1);

    mail.refuse = false;
    expect(await kapu.deps.sender.deliverDue()).toBe(0); // not yet: the retry waits its back-off
    kapu.clock.advance(60);
    expect(await kapu.deps.sender.deliverDue()).toBe(1);
    const { tag, code } = readCodeMail(await mail.next((m) => m.to.includes('kimaradt.level'), since));
    expect(page.value('#tag')).toBe(tag);
    await browser.submit(page, '/verify', { code });
    expect(browser.exitUrl).toBeDefined();
    expect((await signIn.finish(browser.exitUrl!)).claims()!.amr).toContain('email');
    expect(await kapu.deps.repos.outbox.pendingCount()).toBe(0);
  });

  test('two replicas delivering the same outbox at once send each mail exactly once', async () => {
    const { rp } = await kapu.client();
    const users = ['egyszer.a', 'egyszer.b', 'egyszer.c'];
    // Queue three code mails while the local sender cannot deliver them.
    mail.refuse = true;
    for (const username of users) {
      await kapu.account(username, ['email']);
      await signInWithPassword(new Browser(kapu.url), (await beginSignIn(rp)).url, 'email', username);
    }
    expect(await kapu.deps.sender.deliverDue()).toBe(0);
    mail.refuse = false;
    kapu.clock.advance(120);

    const since = mail.received.length;
    const replica = () =>
      new OutboxSender(
        { repo: kapu.deps.repos.outbox, transport: nodemailer.createTransport(mail.url), box: kapu.deps.box, clock: kapu.clock, log: kapu.deps.log },
        { from: 'kapu <no-reply@example.hu>', pollMs: 60_000, leaseSeconds: 60 },
      );
    const sent = await Promise.all([replica().deliverDue(), replica().deliverDue()]);
    expect(sent[0]! + sent[1]!).toBe(3);
    await Promise.all(users.map((u) => mail.next((m) => m.to.includes(u), since)));
    const delivered = mail.received.slice(since).map((m) => m.to);
    expect(delivered.sort()).toEqual(users.map((u) => `${u}@example.hu`).sort());
  });
});
