import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';
import { appCode, buttonTexts, fieldLabelled, forgePost, press, toMiddleOfStep } from '../helpers/totp.ts';
import { kapuWithMail } from '../helpers/suite.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const APP = 'Ügyfélkapu+ hitelesítő alkalmazással';
const EMAIL = 'Ügyfélkapu+ e-mailes kóddal';

describe('choosing and switching the second factor', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  /** A fresh browser at an RP: the chooser, the method pressed by its label, then the password. */
  async function signInWith(method: string, username: string, password = PASSWORD) {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    const passwordPage = await press(browser, chooser, '/method', method);
    const page = await browser.submit(passwordPage, '/password', { username, password });
    return { browser, signIn, page };
  }

  /** The code of the next sign-in mail to `email` (after the first `since` mails). */
  async function mailedCode(email: string, since: number) {
    return readCodeMail(await mail.next((m) => m.to.includes(email), since));
  }

  test('an account with only the emailed code that picked the app is offered just the emailed code, and finishes with it', async () => {
    const { email } = await kapu.account('csak.email', ['email']);
    const since = mail.received.length;
    const { browser, signIn, page: choice } = await signInWith(APP, 'csak.email');
    expect(choice.status).toBe(200);
    expect(choice.text('h1')).toBe('Bejelentkezés – azonosítási mód');
    expect(buttonTexts(choice, '/factor')).toEqual([EMAIL]);
    expect(mail.received.length).toBe(since);

    const codePage = await press(browser, choice, '/factor', EMAIL);
    const { tag, code } = await mailedCode(email, since);
    expect(codePage.value('#tag')).toBe(tag);
    await browser.submit(codePage, '/verify', { code });
    expect(browser.exitUrl?.origin).toBe('https://rp.example.hu');
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'email', 'mfa']);
  });

  test('with both factors the citizen can switch from the app to the emailed code and finish with the mailed code', async () => {
    const { email } = await kapu.account('mindketto.adam', ['totp', 'email']);
    const since = mail.received.length;
    const { browser, signIn, page: appPage } = await signInWith(APP, 'mindketto.adam');
    expect(fieldLabelled(appPage, 'Azonosító')).toBeDefined();
    expect(mail.received.length).toBe(since);

    const codePage = await press(browser, appPage, '/factor', EMAIL);
    expect(codePage.text('h1')).toBe('Bejelentkezés – e\u2011mailes kód');
    const { code } = await mailedCode(email, since);
    await browser.submit(codePage, '/verify', { code });
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toContain('email');
  });

  test('with both factors the citizen can switch from the emailed code to the app and finish with the app code', async () => {
    const { email, totpSecret } = await kapu.account('mindketto.bori', ['email', 'totp']);
    const since = mail.received.length;
    const { browser, signIn, page: codePage } = await signInWith(EMAIL, 'mindketto.bori');
    await mailedCode(email, since);
    expect(codePage.text('h1')).toBe('Bejelentkezés – e\u2011mailes kód');

    toMiddleOfStep(kapu.clock);
    const appPage = await press(browser, codePage, '/factor', APP);
    expect(fieldLabelled(appPage, 'Azonosító')).toBeDefined();
    await browser.submit(appPage, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('after a wrong password, an account with factors, one without and an unknown name all get the same page', async () => {
    await kapu.account('van.faktora', ['totp', 'email']);
    await kapu.account('nincs.faktora');
    for (const method of [APP, EMAIL, 'Ügyfélkapuval']) {
      const pages: Page[] = [];
      for (const username of ['van.faktora', 'nincs.faktora', 'nincs.ilyen']) {
        const { browser, page } = await signInWith(method, username, 'wrong password');
        expect(browser.exitUrl).toBeUndefined();
        expect(page.value('#username')).toBe(username);
        pages.push(page);
      }
      const [withFactors, without, unknown] = pages.map((p) => ({ status: p.status, html: comparable(p) }));
      expect(withFactors!.status).toBe(401);
      expect(without).toEqual(withFactors);
      expect(unknown).toEqual(withFactors);
    }
    expect(mail.received.some((m) => m.to.includes('van.faktora'))).toBe(false);
  });

  test('choosing a factor the account does not have is refused and changes nothing', async () => {
    const { email } = await kapu.account('csak.email.2', ['email']);
    const since = mail.received.length;
    const { browser, page: choice } = await signInWith(APP, 'csak.email.2');

    const forged = await forgePost(browser, choice, 'factor', { factor: 'totp' });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    expect(forged.headers.get('location')).toBeNull();

    const again = await browser.go(choice.url);
    expect(again.text('h1')).toBe('Bejelentkezés – azonosítási mód');
    expect(buttonTexts(again, '/factor')).toEqual([EMAIL]);
    expect(browser.exitUrl).toBeUndefined();
    expect(mail.received.length).toBe(since);

    // The honest way on still works.
    const codePage = await press(browser, again, '/factor', EMAIL);
    const { code } = await mailedCode(email, since);
    await browser.submit(codePage, '/verify', { code });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
  });

  test('a code or a factor posted before the password is checked is refused as the wrong step, not a server error', async () => {
    const { totpSecret } = await kapu.account('siet.odon', ['totp']);
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    const code = await appCode(totpSecret!, kapu.clock);

    const atChooser = await forgePost(browser, chooser, 'verify', { code });
    expect(atChooser.status).toBe(409);
    const wrongStepPage = await atChooser.text();
    expect(wrongStepPage).toContain('Ez a lépés már nem érvényes');
    // …and it offers the way back to where the sign-in really is.
    expect(wrongStepPage).toContain(`href="${chooser.url.pathname}"`);

    const passwordPage = await press(browser, chooser, '/method', APP);
    const atPassword = await forgePost(browser, passwordPage, 'verify', { code });
    expect(atPassword.status).toBe(409);
    const factorAtPassword = await forgePost(browser, passwordPage, 'factor', { factor: 'totp' });
    expect(factorAtPassword.status).toBe(409);
    const wrongPassword = await browser.submit(passwordPage, '/password', { username: 'siet.odon', password: 'wrong password' });
    const afterWrongPassword = await forgePost(browser, wrongPassword, 'verify', { code });
    expect(afterWrongPassword.status).toBe(409);
    expect(browser.exitUrl).toBeUndefined();

    // The sign-in itself is where it was: the password step.
    const stillThere = await browser.go(passwordPage.url);
    expect(stillThere.hasForm('/password')).toBe(true);
  });
});

/** The page's HTML with what differs per sign-in (its uid and CSRF token) and the echoed name blanked. */
function comparable(page: Page): string {
  const uid = /^\/interaction\/([^/]+)/.exec(page.url.pathname)![1]!;
  const csrf = page.value('input[name="csrf"]')!;
  const username = page.value('#username')!;
  return page.html.replaceAll(uid, '{uid}').replaceAll(csrf, '{csrf}').replaceAll(`value="${username}"`, 'value="{username}"');
}
