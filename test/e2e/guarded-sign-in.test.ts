/**
 * Issue 9, item 4: strangers' failures lock a username for new browsers, but the citizen who
 * proves the password and the chosen second factor still gets in, from any browser. With a
 * wrong password the sign-in goes on all the same, to a proof that looks and answers the same
 * and never succeeds: the lock tells nobody whether a password was right.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink, ReceivedMail } from '../helpers/mail-sink.ts';
import { USER_POLICY } from '../../src/security/throttle.ts';
import { kapuWithMail } from '../helpers/suite.ts';
import { addPasskey } from '../helpers/passkey-account.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';

describe('a sign-in under a username lock (guarded)', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  /** A stranger's failed guesses, from a browser of their own, until the username is locked. */
  async function lockOut(username: string): Promise<void> {
    const stranger = new Browser(kapu.url);
    for (let i = 0; i < USER_POLICY.freeFailures + 1; i += 1) {
      const page = await signInWithPassword(stranger, (await beginSignIn(rp)).url, 'legacy', username, `guess ${i}`);
      expect(page.html).toContain('Hibás felhasználónév vagy jelszó');
    }
  }

  /** The page after the password step in a fresh browser, with `method` chosen. */
  async function passwordStep(method: string, username: string, password: string) {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, method, username, password);
    return { browser, signIn, page };
  }

  /** A sign-in code mail to `username` (the mail about failed attempts may still be on its way). */
  const codeMailTo = (username: string) => (m: ReceivedMail) => m.to.includes(username) && m.subject === 'Ügyfélkapu+ hitelesítő kód';

  const totpNow = (secret: string) => generate({ secret, epoch: Math.floor(kapu.clock.now().getTime() / 1000) });

  /** What a reader (or a script) could compare: status, visible text, forms, with the sign-in's own ids taken out. */
  const looks = (page: Page) => ({
    status: page.status,
    text: page.visibleText.replace(/\b\d{3}\b/g, '###'),
    forms: page.doc.querySelectorAll('form').map((f) => f.getAttribute('action')!.replace(/\/interaction\/[^/]+/, '/interaction/…')),
  });

  test('the citizen with the right password and the app code signs in from a new browser, despite the lock', async () => {
    const { totpSecret } = await kapu.account('ostromlott.olga', ['totp']);
    await lockOut('ostromlott.olga');
    // Password only is still refused: the lock is real.
    const legacy = await passwordStep('legacy', 'ostromlott.olga', PASSWORD);
    expect(legacy.page.html).toContain('Hibás felhasználónév vagy jelszó');

    const { browser, signIn, page } = await passwordStep('totp', 'ostromlott.olga', PASSWORD);
    expect(page.visibleText).toContain('átmenetileg zároltuk');
    expect(page.hasForm('/verify')).toBe(true);
    await browser.submit(page, '/verify', { code: await totpNow(totpSecret!) });
    const tokens = await signIn.finish(browser.exitUrl!);
    const claims = tokens.claims()!;
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    // The lock stays for everyone else.
    expect((await passwordStep('legacy', 'ostromlott.olga', PASSWORD)).page.html).toContain('Hibás felhasználónév vagy jelszó');
  });

  test('the citizen with the right password and the emailed code signs in from a new browser, despite the lock', async () => {
    const account = await kapu.account('ostromlott.otto', ['email']);
    await lockOut('ostromlott.otto');
    const since = mail.received.length;
    const { browser, signIn, page } = await passwordStep('email', 'ostromlott.otto', PASSWORD);
    const tag = page.value('#tag')!;
    const sent = await mail.next(codeMailTo(account.email), since);
    expect(sent.text).toContain(tag);
    const code = /\b(\d{6})\b/.exec(sent.text)![1]!;
    // A wrong code first: the same rules as any code (tries left are said).
    const wrong = await browser.submit(page, '/verify', { code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.visibleText).toContain('Még 4 próbálkozása van');
    await browser.submit(wrong, '/verify', { code });
    await signIn.finish(browser.exitUrl!);
  });

  test('a wrong password under the lock looks exactly like a right one, and its proof never succeeds', async () => {
    const { totpSecret } = await kapu.account('celpont.cecil', ['totp', 'email']);
    await lockOut('celpont.cecil');

    for (const method of ['totp', 'email']) {
      const since = mail.received.length;
      const wrong = await passwordStep(method, 'celpont.cecil', 'not the password');
      const right = await passwordStep(method, 'celpont.cecil', PASSWORD);
      expect(looks(wrong.page)).toEqual(looks(right.page));
      // An unknown username under a lock of its own looks the same too.
      if (method === 'totp') {
        await lockOut('nincs.ilyen');
        const unknown = await passwordStep(method, 'nincs.ilyen', PASSWORD);
        expect(looks(unknown.page)).toEqual({ ...looks(right.page), text: looks(right.page).text.replace('celpont.cecil', 'nincs.ilyen') });
      }

      // The same wrong answer gets the same reply, page and status.
      const wrongAnswer = await wrong.browser.submit(wrong.page, '/verify', { code: '000001' });
      const rightAnswer = await right.browser.submit(right.page, '/verify', { code: '000001' });
      expect(looks(wrongAnswer)).toEqual(looks(rightAnswer));
      expect(wrongAnswer.status).toBe(401);

      // Even the right code opens nothing after a wrong password.
      const code = method === 'totp' ? await totpNow(totpSecret!) : /\b(\d{6})\b/.exec((await mail.next(codeMailTo('celpont.cecil'), since)).text)![1]!;
      const refused = await wrong.browser.submit(wrongAnswer, '/verify', { code });
      expect(wrong.browser.exitUrl).toBeUndefined();
      expect(refused.status).toBe(401);
      // Only the right password's sign-in mailed a code (one mail for the email method, none for the app).
      const mailed = mail.received.slice(since).filter(codeMailTo('celpont.cecil'));
      expect(mailed).toHaveLength(method === 'email' ? 1 : 0);
    }
  });

  test('under the lock an emailed code is one per sign-in: after its last try both proofs end the same way, with the way back', async () => {
    await kapu.account('vegig.vera', ['email']);
    await lockOut('vegig.vera');
    const wrong = await passwordStep('email', 'vegig.vera', 'not the password');
    const right = await passwordStep('email', 'vegig.vera', PASSWORD);
    const exhaust = async (flow: { browser: Browser; page: Page }) => {
      let page = flow.page;
      for (let i = 0; i < 5; i += 1) page = await flow.browser.submit(page, '/verify', { code: '000001' });
      return page;
    };
    const [wrongEnd, rightEnd] = [await exhaust(wrong), await exhaust(right)];
    expect(looks(wrongEnd)).toEqual(looks(rightEnd));
    expect(rightEnd.visibleText).toContain('Térjen vissza a szolgáltatáshoz, és kezdje újra a bejelentkezést.');
    expect(rightEnd.hasForm('/verify')).toBe(false);
    expect(rightEnd.hasForm('/resend')).toBe(false);
  });

  describe('with a passkey: "Bejelentkezés passkey-jel", then the username and password first', () => {
    /** The page after the password in a fresh browser, reached from the passkey's own page by its "username and password first". */
    async function passkeyAfterPassword(username: string, password: string) {
      const browser = new Browser(kapu.url);
      const signIn = await beginSignIn(rp);
      const passwordless = await browser.submit(await browser.go(signIn.url), '/method', {}, { name: 'method', value: 'passkey' });
      const passwordPage = await browser.submit(passwordless, '/with-password');
      expect(passwordPage.hasForm('/password')).toBe(true);
      const page = await browser.submit(passwordPage, '/password', { username, password });
      return { browser, signIn, page };
    }

    const optionsOn = (page: Page) => JSON.parse(page.doc.querySelector('[data-passkey]')!.getAttribute('data-passkey-options')!) as PublicKeyCredentialRequestOptionsJSON;

    test('the citizen with the right password and the passkey signs in from a new browser, despite the lock', async () => {
      const account = await kapu.account('ostromlott.peter', ['email']);
      const authenticator = await addPasskey(kapu.deps, account, new SoftwareAuthenticator(new URL(kapu.url).origin));
      await lockOut('ostromlott.peter');
      const { browser, signIn, page } = await passkeyAfterPassword('ostromlott.peter', PASSWORD);
      expect(page.visibleText).toContain('átmenetileg zároltuk');
      // The page names no credential of the account: it is the same page after a wrong password.
      const options = optionsOn(page);
      expect(options).toMatchObject({ rpId: new URL(kapu.url).hostname, allowCredentials: [] });
      await browser.submit(page, '/verify', { credential: JSON.stringify(authenticator.get(options)) });
      const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
      expect(claims).toMatchObject({ sub: account.id, amr: ['pwd', 'hwk', 'user', 'mfa'] });
      // The lock stays for everyone else.
      expect((await passwordStep('legacy', 'ostromlott.peter', PASSWORD)).page.html).toContain('Hibás felhasználónév vagy jelszó');
    });

    test('a wrong password looks and answers exactly like a right one, and even the account’s own passkey opens nothing after it', async () => {
      const account = await kapu.account('celpont.pal', ['email']);
      const authenticator = await addPasskey(kapu.deps, account, new SoftwareAuthenticator(new URL(kapu.url).origin));
      const stranger = new SoftwareAuthenticator(new URL(kapu.url).origin);
      await addPasskey(kapu.deps, await kapu.account('mas.valaki', ['email']), stranger);
      await lockOut('celpont.pal');
      const wrong = await passkeyAfterPassword('celpont.pal', 'not the password');
      const right = await passkeyAfterPassword('celpont.pal', PASSWORD);
      expect(looks(wrong.page)).toEqual(looks(right.page));

      // Someone else's passkey: the same refusal after either password.
      const wrongAnswer = await wrong.browser.submit(wrong.page, '/verify', { credential: JSON.stringify(stranger.get(optionsOn(wrong.page))) });
      const rightAnswer = await right.browser.submit(right.page, '/verify', { credential: JSON.stringify(stranger.get(optionsOn(right.page))) });
      expect(looks(wrongAnswer)).toEqual(looks(rightAnswer));
      expect(rightAnswer.visibleText).toContain('Ezzel a passkey-jel nem sikerült az azonosítás.');

      // The account's own passkey, after the wrong password: refused, the same words.
      const refused = await wrong.browser.submit(wrongAnswer, '/verify', { credential: JSON.stringify(authenticator.get(optionsOn(wrongAnswer))) });
      expect(wrong.browser.exitUrl).toBeUndefined();
      expect(looks(refused)).toEqual(looks(rightAnswer));
      // After the right password the page's fresh challenge takes it.
      await right.browser.submit(rightAnswer, '/verify', { credential: JSON.stringify(authenticator.get(optionsOn(rightAnswer))) });
      expect((await right.signIn.finish(right.browser.exitUrl!)).claims()).toMatchObject({ sub: account.id });
    });
  });

  test('the failure mail is written in the language of the account', async () => {
    const account = await kapu.account('angol.anna');
    await kapu.deps.db.updateTable('account').set({ lang: 'en' }).where('id', '=', account.id).execute();
    const since = mail.received.length;
    await lockOut('angol.anna');
    const told = await mail.next((m) => m.to.includes(account.email), since);
    expect(told.subject).not.toContain('sikertelen');
    expect(told.text).toMatch(/failed attempts to sign in/);
  });
});
