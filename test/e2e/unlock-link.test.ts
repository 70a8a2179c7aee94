/**
 * Issue 15, item 5: no stranger can lock out a citizen who signs in with a password alone. When
 * strangers' failures have locked the username, the citizen asks for a link mailed to the
 * address on file; opened in the browser that asked, it lets that browser in — with the right
 * password, as always — while every other browser stays locked. The link is single use,
 * short-lived, and asking for it answers the same for a name that is nobody's.
 */
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink, ReceivedMail } from '../helpers/mail-sink.ts';
import { USER_POLICY } from '../../src/security/throttle.ts';
import { kapuWithMail } from '../helpers/suite.ts';

describe('a mailed link lets this browser past a lock', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  /** A password-only sign-in in this browser: its last page, and whether it reached the RP. */
  async function signIn(browser: Browser, username: string, password = PASSWORD): Promise<{ page: Page; in: boolean }> {
    browser.exitUrl = undefined;
    const page = await signInWithPassword(browser, (await beginSignIn(rp, { prompt: 'login' })).url, 'legacy', username, password);
    return { page, in: (browser.exitUrl as URL | undefined)?.searchParams.has('code') === true };
  }

  async function lockOut(username: string): Promise<void> {
    const stranger = new Browser(kapu.url);
    for (let i = 0; i < USER_POLICY.freeFailures + 1; i += 1) expect((await signIn(stranger, username, `guess ${i}`)).in).toBe(false);
  }

  /** From the refused password page, the citizen asks for the link: the page that answers. */
  async function askForLink(browser: Browser, refused: Page, username: string): Promise<Page> {
    const href = refused.doc.querySelectorAll('a').find((a) => (a.getAttribute('href') ?? '').endsWith('/unlock'))?.getAttribute('href');
    expect(href).toBeDefined();
    const asking = await browser.go(href!);
    expect(asking.text('h1')).toBe('Belépés ebből a böngészőből');
    return browser.submit(asking, '/unlock', { username });
  }

  /** The link mail to `email` (the mail about failed attempts may still be on its way). */
  const linkMailTo = (email: string) => (m: ReceivedMail) => m.to.includes(email) && m.subject === 'Ügyfélkapu+ – belépési link';
  const linkIn = (m: ReceivedMail) => /https?:\/\/\S+\/unlock\/\S+/.exec(m.text)![0];

  test('the citizen opens the mailed link in the browser that asked and signs in with the password; other browsers stay locked', async () => {
    const account = await kapu.account('jelszavas.jolan');
    await lockOut('jelszavas.jolan');
    const citizen = new Browser(kapu.url);
    const refused = await signIn(citizen, 'jelszavas.jolan');
    expect(refused.in).toBe(false);
    expect(refused.page.visibleText).toContain('Hibás felhasználónév vagy jelszó');

    const since = mail.received.length;
    const sent = await askForLink(citizen, refused.page, 'jelszavas.jolan');
    expect(sent.status).toBe(200);
    const tag = /munkamenet-azonosító áll: (\d{3})/.exec(sent.visibleText)![1]!;
    const linkMail = await mail.next(linkMailTo(account.email), since);
    expect(linkMail.text).toContain(`Munkamenet-azonosító: ${tag}`);
    expect(linkMail.text).toContain('Ezt a linket soha ne küldje tovább');
    expect(linkMail.html).toContain(linkIn(linkMail).replace(/&/g, '&amp;'));
    const link = linkIn(linkMail);

    // Opened in another browser (forwarded, or fetched by a mail scanner) it does nothing, and is not used up.
    const other = new Browser(kapu.url);
    const elsewhere = await other.go(link);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.visibleText).toContain('nem abban a böngészőben nyitotta meg');

    const opened = await citizen.go(link);
    expect(opened.status).toBe(200);
    expect(opened.visibleText).toContain('jelszavas.jolan felhasználónévvel');
    // It goes back to the sign-in it was asked from: the password is still asked for.
    const back = await citizen.go(opened.doc.querySelector('a.button')!.getAttribute('href')!);
    expect(back.text('h1')).toBe('Bejelentkezés – jelszó');
    expect((await signIn(citizen, 'jelszavas.jolan', 'not the password')).in).toBe(false);
    expect((await signIn(citizen, 'jelszavas.jolan')).in).toBe(true);

    // The lock stands for every other browser, and the link works once.
    expect((await signIn(other, 'jelszavas.jolan')).in).toBe(false);
    expect((await signIn(new Browser(kapu.url), 'jelszavas.jolan')).in).toBe(false);
    expect((await citizen.go(link)).status).toBe(400);
  });

  test('an expired link does nothing', async () => {
    const account = await kapu.account('kesei.kornel');
    await lockOut('kesei.kornel');
    const citizen = new Browser(kapu.url);
    const since = mail.received.length;
    await askForLink(citizen, (await signIn(citizen, 'kesei.kornel')).page, 'kesei.kornel');
    const link = linkIn(await mail.next(linkMailTo(account.email), since));
    kapu.clock.advance(kapu.deps.config.codes.ttlSeconds + 1);
    const opened = await citizen.go(link);
    expect(opened.status).toBe(400);
    expect(opened.text('h1')).toBe('A link nem használható');
    // The lock itself has ended by now (minutes, not hours): what stayed is that the link opened nothing.
    const device = await kapu.deps.db.selectFrom('audit_event').select('id').where('type', '=', 'signin.unlocked').where('account_id', '=', account.id).execute();
    expect(device).toHaveLength(0);
  });

  test('a name that is nobody’s gets the same answer, and only the citizen gets a link', async () => {
    await kapu.account('letezo.lenke');
    const looks = (p: Page) => ({ status: p.status, text: p.visibleText.replace(/\b\d{3}\b/g, '###'), forms: p.doc.querySelectorAll('form').map((f) => f.getAttribute('action')!.replace(/\/interaction\/[^/]+/, '/interaction/…')) });
    const asked = async (username: string) => {
      const browser = new Browser(kapu.url);
      return askForLink(browser, (await signIn(browser, username, 'wrong')).page, username);
    };
    const since = mail.received.length;
    const real = await asked('letezo.lenke');
    const nobody = await asked('nincs.ilyen.nev');
    expect(looks(nobody)).toEqual(looks(real));
    await mail.next(linkMailTo('letezo.lenke'), since);
    expect(mail.received.slice(since).filter((m) => m.subject === 'Ügyfélkapu+ – belépési link').map((m) => m.to)).toEqual(['letezo.lenke@example.hu']);
  });

  test('a forgotten password reset in a browser makes it one the stranger cannot lock out again', async () => {
    const account = await kapu.account('elfelejto.elek');
    const newPassword = 'uj jelszo 2026';
    const citizen = new Browser(kapu.url);
    const since = mail.received.length;
    const step2 = await citizen.submit(await citizen.go('/account/reset'), '/account/reset', { username: 'elfelejto.elek' });
    const code = /Kód: (\d{6})/.exec((await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – elfelejtett jelszó', since)).text)![1]!;
    const done = await citizen.submit(step2, step2.url.pathname, { code, password: newPassword, password2: newPassword });
    expect(done.visibleText).toContain('Az új jelszavát elmentettük.');

    await lockOut('elfelejto.elek');
    expect((await signIn(citizen, 'elfelejto.elek', newPassword)).in).toBe(true);
    expect((await signIn(new Browser(kapu.url), 'elfelejto.elek', newPassword)).in).toBe(false);
  });
});
