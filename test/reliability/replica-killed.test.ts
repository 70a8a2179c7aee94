/**
 * Issue 16, items 3 and 6: a replica killed in the middle of a sign-in. Two kapu replicas share
 * one Postgres; the one that queued a citizen's code mail is killed with SIGKILL while its mail
 * server conversation hangs mid-delivery, so it dies holding its claim on the mail, and nothing
 * of it is left to release the claim. The citizen goes on at the other replica: the code mail
 * leaves from there within seconds (a claim's lease is short; the dead replica no longer renews
 * it), not a minute later, once, and its code finishes the sign-in.
 */
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';
import { outboxDrained } from '../helpers/outbox.ts';
import { type Replicas, startReplicas } from '../helpers/replicas.ts';

/** Within this after the kill, the mail has left from the other replica (the lease is 10 s). */
const TAKEOVER_MS = 15_000;

const withPostgres = process.env['DATABASE_URL'] ? describe : describe.skip;

withPostgres('a replica killed in the middle of a sign-in', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let cluster: Replicas;

  beforeAll(async () => {
    mail = await new MailSink().start();
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url } });
    ({ rp } = await kapu.client());
    // The test's own kapu only holds the database: the two replicas are the only senders, and
    // the one that stays polls as seldom as production does.
    await kapu.deps.sender.stop();
    cluster = await startReplicas(kapu, 1, { processes: 1, overrides: { mailPollMs: 5_000 } });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
    await kapu?.close();
    await mail?.stop();
  });

  test('its claimed code mail leaves from the other replica within seconds, once, and the sign-in finishes there', async () => {
    await kapu.account('atvett.agnes', ['email']);
    const [survivor] = cluster.replicas;
    const [doomed] = cluster.processes;
    // The survivor's sender waits until the killed replica holds the mail (which replica
    // claims a mail first is otherwise a matter of milliseconds).
    await survivor!.deps.sender.stop();
    const held = mail.holdNext();

    cluster.routeTo(1);
    const browser = new Browser(cluster.url);
    const start = (await beginSignIn(rp)).url;
    const page = await signInWithPassword(browser, new URL(`${start.pathname}${start.search}`, cluster.url), 'email', 'atvett.agnes');
    const tag = page.value('#tag');
    await held;
    const since = mail.received.length;
    doomed!.child.kill('SIGKILL');
    await doomed!.exited;
    survivor!.deps.sender.start();

    cluster.routeTo(0);
    const sent = await mail.next((m) => m.to.includes('atvett.agnes@'), since, TAKEOVER_MS);
    expect(readCodeMail(sent).tag).toBe(tag);
    await browser.submit(page, '/verify', { code: readCodeMail(sent).code });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
    // Once: the killed replica's delivery never completed, and nothing is left to send.
    expect(mail.received.filter((m) => m.to.includes('atvett.agnes@'))).toEqual([sent]);
    await outboxDrained(kapu, 5_000);
  });
});
