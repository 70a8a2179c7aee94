/**
 * Issue 16, items 3, 4 and 6: the mail server away and back. kapu starts while its SMTP server
 * is down, then the server comes back, goes away again while kapu runs, and comes back again.
 * What citizens and operators notice: kapu serves throughout (the app signs in, code pages
 * answer), the operator reads the mail server's state in /metrics and /readyz and one log line
 * per change, and once the server answers, every mail queued meanwhile leaves within five
 * seconds, in the order it was queued for its address, once — and the mail of a code that was
 * replaced meanwhile never.
 *
 * On Postgres two more replicas share the outbox (three senders, each polling only every five
 * seconds, as in production: the wake-up, not the poll, must bring the mail out); on the
 * embedded database there is the one kapu.
 */
import request from 'supertest';
import type { Kapu } from '../../src/server.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { captureLog } from '../helpers/captured-log.ts';
import { MailSink, type ReceivedMail, readCodeMail } from '../helpers/mail-sink.ts';
import { outboxDrained } from '../helpers/outbox.ts';
import { type Replicas, startReplicas } from '../helpers/replicas.ts';
import { appCode, press, toMiddleOfStep } from '../helpers/totp.ts';

/** After the server answers again, every queued mail is out within this. */
const RECOVERY_MS = 5_000;
const WENT_AWAY = 'mail server unreachable: mail waits in the outbox and leaves once it answers';
const CAME_BACK = 'mail server answers again: the mail that waited is being sent';
const RESEND_SECONDS = 10;

describe('the mail server away and back', () => {
  const captured = captureLog();
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let cluster: Replicas | null = null;
  /** Every kapu that sends mail. */
  let senders: Kapu[];
  let signIns = 0;

  beforeAll(async () => {
    mail = await new MailSink().start();
    await mail.outage();
    kapu = await startTestKapu({
      env: { SMTP_URL: mail.url, CODE_RESEND_SECONDS: String(RESEND_SECONDS) },
      overrides: { log: captured.log, mailPollMs: 5_000 },
    });
    ({ rp } = await kapu.client());
    if (process.env['DATABASE_URL']) cluster = await startReplicas(kapu, 2, { overrides: { mailPollMs: 5_000 } });
    senders = [kapu, ...(cluster?.replicas ?? [])];
  });
  afterAll(async () => {
    await cluster?.close();
    await kapu?.close();
    await mail?.stop();
  });

  /** A citizen's sign-in at the RP, through the chooser and the password, on the next replica. */
  async function signIn(username: string, method: 'email' | 'totp'): Promise<{ browser: Browser; page: Page }> {
    const start = (await beginSignIn(rp)).url;
    cluster?.routeTo(signIns % 2);
    signIns += 1;
    const browser = new Browser(cluster?.url ?? kapu.url);
    const page = await signInWithPassword(browser, cluster ? new URL(`${start.pathname}${start.search}`, cluster.url) : start, method, username);
    expect(page.status).toBe(200);
    return { browser, page };
  }

  /** Each sender's view of the mail server: its kapu_smtp_up and /readyz. */
  async function seenBySenders(): Promise<Array<{ up: string | undefined; ready: number; mail: unknown }>> {
    return Promise.all(
      senders.map(async (s) => {
        const metrics = (await request(s.metrics!).get('/metrics').expect(200)).text;
        const ready = await request(s.server).get('/readyz');
        return { up: /^kapu_smtp_up (\d)$/m.exec(metrics)?.[1], ready: ready.status, mail: (ready.body as { mail?: unknown }).mail };
      }),
    );
  }

  const tagsTo = (mails: ReceivedMail[], username: string) => mails.filter((m) => m.to.includes(`${username}@`)).map((m) => readCodeMail(m).tag);

  test('kapu starts without its mail server: it says so once, shows it in /metrics and /readyz, and signs in with the app', async () => {
    await captured.waitFor(WENT_AWAY, senders.length);
    const down = { up: '0', ready: 200, mail: 'unreachable' };
    expect(await seenBySenders()).toEqual(senders.map(() => down));

    const { totpSecret } = await kapu.account('alkalmazas.aladar', ['totp']);
    toMiddleOfStep(kapu.clock);
    const { browser, page } = await signIn('alkalmazas.aladar', 'totp');
    await browser.submit(page, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
    // Told once per replica, however long it lasts and whatever fails meanwhile.
    expect(captured.count(WENT_AWAY)).toBe(senders.length);
  });

  test('mail queued meanwhile leaves within five seconds of its return, in order for each address, once; a replaced code\'s mail never', async () => {
    for (const name of ['csere.anna', 'sorban.bela', 'egy.cili', 'egy.dani']) await kapu.account(name, ['email']);
    // Anna asks for a new code: the first one's mail must never leave.
    const anna = await signIn('csere.anna', 'email');
    const replaced = anna.page.value('#tag');
    kapu.clock.advance(RESEND_SECONDS + 1);
    const resent = await press(anna.browser, anna.page, '/resend', 'Új kód küldése');
    const live = resent.value('#tag');
    expect(live).not.toBe(replaced);
    // Béla signs in three times (three browsers): three mails, to arrive in this order.
    const bela: string[] = [];
    for (let i = 0; i < 3; i += 1) bela.push((await signIn('sorban.bela', 'email')).page.value('#tag')!);
    await signIn('egy.cili', 'email');
    await signIn('egy.dani', 'email');

    const since = mail.received.length;
    const back = Date.now();
    await mail.restore();
    const arrived = await mail.arrived(6, since, RECOVERY_MS - (Date.now() - back));
    await outboxDrained(kapu, RECOVERY_MS);

    const received = mail.received.slice(since);
    expect(received).toEqual(arrived);
    expect(tagsTo(received, 'csere.anna')).toEqual([live]);
    expect(tagsTo(received, 'sorban.bela')).toEqual(bela);
    expect(tagsTo(received, 'egy.cili')).toHaveLength(1);
    expect(tagsTo(received, 'egy.dani')).toHaveLength(1);
    expect(new Set(received.map((m) => readCodeMail(m).code)).size).toBe(6);

    // The live code is the one that signs in.
    const code = readCodeMail(received.find((m) => m.to.includes('csere.anna@'))!).code;
    cluster?.routeTo(0);
    await anna.browser.submit(resent, '/verify', { code });
    expect(anna.browser.exitUrl?.searchParams.get('code')).toBeTruthy();

    await captured.waitFor(CAME_BACK, senders.length);
    expect(await seenBySenders()).toEqual(senders.map(() => ({ up: '1', ready: 200, mail: 'ok' })));
    // Still one warning per replica for the whole outage: none per mail, none per retry.
    expect(captured.count(WENT_AWAY)).toBe(senders.length);
  });

  test('the server going away while kapu runs is noticed at the next mail and said once; its mail leaves within five seconds of the return', async () => {
    await kapu.account('kesobb.erik', ['email']);
    const warned = captured.count(WENT_AWAY);
    const since = mail.received.length;
    await mail.outage();
    const first = (await signIn('kesobb.erik', 'email')).page.value('#tag');
    // The replica that tried to send found the server gone and told the others.
    await captured.waitFor(WENT_AWAY, warned + senders.length);
    expect(await seenBySenders()).toEqual(senders.map(() => ({ up: '0', ready: 200, mail: 'unreachable' })));
    const second = (await signIn('kesobb.erik', 'email')).page.value('#tag');

    const back = Date.now();
    await mail.restore();
    await mail.arrived(2, since, RECOVERY_MS - (Date.now() - back));
    await outboxDrained(kapu, RECOVERY_MS);
    expect(tagsTo(mail.received.slice(since), 'kesobb.erik')).toEqual([first, second]);
    await captured.waitFor(CAME_BACK, 2 * senders.length);
    expect(captured.count(WENT_AWAY)).toBe(warned + senders.length);
    expect(captured.lines.filter((l) => l.msg === 'mail not accepted by the mail server; will retry')).toEqual([]);
  });
});
