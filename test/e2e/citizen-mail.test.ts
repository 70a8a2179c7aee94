/**
 * The code mail as a citizen reads it on a phone: which service asked, when and from which
 * browser; the same content in its plain-text and HTML parts; a viewport for small screens.
 */
import { parse } from 'node-html-parser';
import { Browser } from '../helpers/browser.ts';
import { nextCodeMail, visibleHtml } from '../helpers/email.ts';
import { type TestKapu, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { kapuWithMail } from '../helpers/suite.ts';

const CHROME_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const fold = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('the code mail', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let accounts = 0;

  kapuWithMail((s) => ({ kapu, mail, rp } = s), { client: { clientName: 'Minta Ügyintézés' } });

  test.each([
    ['hu', { service: 'Szolgáltatás: Minta Ügyintézés', time: 'Kérés időpontja', zone: '(magyar idő)', browser: 'Böngésző: Chrome 131, Linux' }],
    ['en', { service: 'Service: Minta Ügyintézés', time: 'Requested at', zone: '(Hungarian time)', browser: 'Browser: Chrome 131, Linux' }],
  ] as const)('(%s) names the service, the time and the browser of the request, the same in text and HTML, with a phone viewport', async (lang, says) => {
    accounts += 1;
    const username = `level.${lang}.${accounts}`;
    await kapu.account(username, ['email']);
    const since = mail.received.length;
    const browser = new Browser(kapu.url, { 'accept-language': lang, 'user-agent': CHROME_ON_LINUX });
    const asked = kapu.clock.now();
    await signInWithPassword(browser, (await beginSignIn(rp)).url, 'email', username);
    const sent = await nextCodeMail(mail, since, `${username}@example.hu`);

    const when = new Intl.DateTimeFormat(lang === 'hu' ? 'hu-HU' : 'en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Budapest' });
    const lines = sent.mail.text.split('\n');
    expect(lines).toContain(says.service);
    expect(lines).toContain(says.browser);
    // The minute of the request (or the next one, if the test crossed a minute boundary).
    const times = [asked, new Date(asked.getTime() + 60_000)].map((d) => `${says.time}: ${when.format(d)} ${says.zone}`);
    expect(times.some((t) => lines.includes(t))).toBe(true);

    // The same words in both parts: a client that shows only one loses nothing.
    expect(fold(sent.htmlText)).toBe(fold(sent.mail.text));
    const head = parse(sent.mail.html).querySelector('meta[name="viewport"]');
    expect(head?.getAttribute('content')).toBe('width=device-width, initial-scale=1');
  });

  test('a notice mail (factor set up) has the same parts and viewport', async () => {
    accounts += 1;
    const username = `ertesites.${accounts}`;
    await kapu.account(username, ['email']);
    const since = mail.received.length;
    // Notices are composed and queued the way the portal does it, without walking its pages.
    const message = kapu.deps.mailer.notice(`${username}@example.hu`, 'en', { key: 'mail.enrolled_email', name: 'Teszt' });
    await kapu.deps.mailer.queue(kapu.deps.repos.outbox, message, kapu.clock.now());
    const got = await mail.next((m) => m.to.includes(username), since);
    expect(fold(visibleHtml(got.html))).toBe(fold(got.text));
    expect(parse(got.html).querySelector('meta[name="viewport"]')).not.toBeNull();
  });
});
