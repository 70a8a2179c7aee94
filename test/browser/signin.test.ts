/**
 * Sign-in in a real browser (Chromium): what a citizen clicks, types and sees, checked with
 * axe-core for accessibility, at desktop and phone sizes. The RP's callback address does not
 * exist, so the browser answers it itself; the test then plays the RP and redeems the code.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';
import {
  DESKTOP,
  MOBILE,
  type Violation,
  axeContext,
  describeWithChromium,
  focused,
  horizontalOverflow,
  launchChromium,
  redirectedTo,
  screenshot,
  seriousViolations,
} from '../helpers/chromium.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const RP_ORIGIN = 'https://rp.example.hu';

describeWithChromium('signing in with a real browser', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let browser: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let clientId: string;
  let context: BrowserContext | undefined;
  let accounts = 0;

  beforeAll(async () => {
    mail = await new MailSink().start();
    [kapu, browser] = await Promise.all([startTestKapu({ env: { SMTP_URL: mail.url } }), launchChromium()]);
    ({ rp, clientId } = await kapu.client({ clientName: 'Minta Ügyintézés' }));
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await kapu?.close();
    await mail?.stop();
  });

  /** A new account with the given factors, under a name no other test uses. */
  function account(factors: string[]) {
    accounts += 1;
    return kapu.account(`polgar.${accounts}`, factors);
  }

  /** A page in a fresh context; a link straight to the RP is answered in the browser (a redirect is not: see redirectedTo). */
  async function openPage(options = DESKTOP, { axe = false } = {}): Promise<Page> {
    context = axe ? await axeContext(browser, options) : await browser.newContext(options);
    await context.route(`${RP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' }));
    return context.newPage();
  }

  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });
  const heading = (page: Page) => page.locator('h1').innerText();

  /** From the RP's authorization URL to the password page of the chosen method. */
  async function toPasswordPage(page: Page, method: string, params: Record<string, string> = {}) {
    const signIn = await beginSignIn(rp, params);
    await page.goto(signIn.url.href);
    await button(page, method).click();
    await field(page, 'Felhasználónév').waitFor();
    return signIn;
  }

  async function submitPassword(page: Page, username: string, password = PASSWORD): Promise<void> {
    await field(page, 'Felhasználónév').fill(username);
    await field(page, 'Jelszó').fill(password);
    await button(page, 'Bejelentkezés').click();
    await page.waitForLoadState();
  }

  /** The whole emailed-code sign-in, as a citizen does it; returns the RP's verified tokens. */
  async function signInWithEmailedCode(page: Page, onCodePage: (page: Page) => Promise<void> = async () => {}) {
    const citizen = await account(['email']);
    const signIn = await toPasswordPage(page, 'Ügyfélkapu+ e-mailes kóddal');
    const since = mail.received.length;
    await submitPassword(page, citizen.username);
    const { tag, code } = readCodeMail(await mail.next((m) => m.to.includes(citizen.email), since));
    expect(await field(page, 'Munkamenet-azonosító').inputValue()).toBe(tag);
    await onCodePage(page);
    await field(page, 'E-mailben kapott kód').fill(code);
    const callback = await redirectedTo(page, RP_ORIGIN, () => button(page, 'Bejelentkezés').click());
    return { tokens: await signIn.finish(callback), callback };
  }

  test('a citizen signs in with the emailed code and the RP gets an ID token at LoA substantial', async () => {
    const page = await openPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });

    const { tokens } = await signInWithEmailedCode(page, async () => {
      expect(await field(page, 'Munkamenet-azonosító').getAttribute('readonly')).not.toBeNull();
      expect(await page.locator('[role=status]').innerText()).toContain('Elküldtük a hitelesítő kódot');
    });

    expect(tokens.claims()?.acr).toBe(SUBSTANTIAL);
    // The real CSP was in force the whole way (no bypass here): nothing it blocked, no broken page.
    expect(consoleErrors).toEqual([]);
  });

  test('no request leaves kapu during the sign-in, except the final redirect to the RP', async () => {
    const page = await openPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));

    const { callback } = await signInWithEmailedCode(page);

    // One address outside kapu: the RP's callback, with the code (the full browser reports it
    // twice, as the redirect's hop and as the navigation it restarts for the other site).
    const kapuOrigin = new URL(kapu.url).origin;
    const elsewhere = new Set(requests.filter((u) => new URL(u).origin !== kapuOrigin));
    expect([...elsewhere]).toEqual([callback.href]);
    expect(callback.href).toMatch(/^https:\/\/rp\.example\.hu\/callback\?code=/);
  });

  describe('accessibility (axe: WCAG 2.1 A and AA, no serious or critical violation)', () => {
    /** Runs axe on each page as it comes; the test fails at the end listing every page's violations. */
    function audit() {
      const found: Record<string, Violation[]> = {};
      return {
        async check(page: Page, name: string) {
          const violations = await seriousViolations(page);
          if (violations.length > 0) found[name] = violations;
        },
        get violations() {
          return found;
        },
      };
    }

    test('the method chooser, the password page, a wrong password and the emailed-code page', async () => {
      const page = await openPage(DESKTOP, { axe: true });
      const axe = audit();
      const citizen = await account(['email']);

      await beginSignIn(rp).then((s) => page.goto(s.url.href));
      await axe.check(page, 'method chooser');
      await button(page, 'Ügyfélkapu+ e-mailes kóddal').click();
      await field(page, 'Jelszó').waitFor();
      await axe.check(page, 'password page');
      await submitPassword(page, citizen.username, 'wrong password');
      expect(await page.getByRole('alert').innerText()).toContain('Hibás felhasználónév vagy jelszó');
      await axe.check(page, 'password page with an error');
      await submitPassword(page, citizen.username);
      await field(page, 'E-mailben kapott kód').waitFor();
      await axe.check(page, 'emailed-code page');
      await field(page, 'E-mailben kapott kód').fill('000000');
      await button(page, 'Bejelentkezés').click();
      await page.getByRole('alert').waitFor();
      await axe.check(page, 'emailed-code page with a wrong code');

      expect(axe.violations).toEqual({});
    });

    test('the authenticator-app page, the factor choice and the upgrade page', async () => {
      const page = await openPage(DESKTOP, { axe: true });
      const axe = audit();

      // An app user signs in with the app.
      const appUser = await account(['totp']);
      await toPasswordPage(page, 'Ügyfélkapu+ hitelesítő alkalmazással');
      await submitPassword(page, appUser.username);
      await field(page, 'Azonosító').waitFor();
      await axe.check(page, 'authenticator-app page');
      expect(await focused(page)).toBe('#code');

      // An app user who picked the emailed code is offered what the account has.
      await toPasswordPage(page, 'Ügyfélkapu+ e-mailes kóddal');
      await submitPassword(page, appUser.username);
      expect(await heading(page)).toBe('Bejelentkezés – azonosítási mód');
      await axe.check(page, 'factor choice');

      // A password-only account cannot reach Ügyfélkapu+ yet.
      const legacyUser = await account([]);
      await toPasswordPage(page, 'Ügyfélkapu+ e-mailes kóddal');
      await submitPassword(page, legacyUser.username);
      expect(await heading(page)).toBe('Ügyfélkapu+ szükséges');
      await axe.check(page, 'upgrade page');

      expect(axe.violations).toEqual({});
    });

    test('a link past a lock: asking for it, the answer, and the link opened in the browser that asked', async () => {
      const page = await openPage(DESKTOP, { axe: true });
      const axe = audit();
      const citizen = await account([]);
      await toPasswordPage(page, 'Ügyfélkapuval');
      await submitPassword(page, citizen.username, 'wrong password');
      await page.getByRole('link', { name: /Kérjen e-mailben linket/ }).click();
      await field(page, 'Felhasználónév').waitFor();
      await axe.check(page, 'unlock: asking');
      const since = mail.received.length;
      await field(page, 'Felhasználónév').fill(citizen.username);
      await button(page, 'Link küldése').click();
      await page.getByRole('status').waitFor();
      await axe.check(page, 'unlock: sent');
      const link = /https?:\/\/\S+\/unlock\/\S+/.exec((await mail.next((m) => m.to.includes(citizen.email), since)).text)![0];
      await page.goto(link);
      expect(await heading(page)).toBe('Ez a böngésző beléphet');
      await axe.check(page, 'unlock: link opened');
      await page.getByRole('link', { name: 'Tovább a bejelentkezéshez' }).click();
      await redirectedTo(page, RP_ORIGIN, () => submitPassword(page, citizen.username));

      expect(axe.violations).toEqual({});
    });

    test('the consent, error and logout pages', async () => {
      const page = await openPage(DESKTOP, { axe: true });
      const axe = audit();

      const asking = await kapu.client({ clientId: 'rp-asks-consent', clientName: 'Kérdező Szolgáltató', consentRequired: true });
      const citizen = await account(['email']);
      const signIn = await beginSignIn(asking.rp);
      await page.goto(signIn.url.href);
      await button(page, 'Ügyfélkapu+ e-mailes kóddal').click();
      const since = mail.received.length;
      await submitPassword(page, citizen.username);
      const { code } = readCodeMail(await mail.next((m) => m.to.includes(citizen.email), since));
      await field(page, 'E-mailben kapott kód').fill(code);
      await button(page, 'Bejelentkezés').click();
      await button(page, 'Engedélyezem').waitFor();
      await axe.check(page, 'consent page');

      const response = await page.goto(new URL('/interaction/unknown', kapu.url).href);
      expect(response?.status()).toBeGreaterThanOrEqual(400);
      expect(await heading(page)).toBe('Hiba történt');
      await axe.check(page, 'error page');

      await page.goto(new URL(`/session/end?client_id=${clientId}`, kapu.url).href);
      await button(page, 'Igen, kijelentkezem').waitFor();
      await axe.check(page, 'logout page');
      await button(page, 'Igen, kijelentkezem').click();
      await page.getByText('Sikeresen kijelentkezett.').waitFor();
      await axe.check(page, 'logout done page');

      expect(axe.violations).toEqual({});
    });
  });

  describe('keyboard', () => {
    test('the first Tab from page load reaches the skip link, which takes the focus to the page content', async () => {
      const page = await openPage();
      await page.goto((await beginSignIn(rp)).url.href);

      await page.keyboard.press('Tab');
      expect(await focused(page)).toBe('a.skip');
      const skip = page.getByRole('link', { name: 'Ugrás a tartalomhoz' });
      const box = await skip.boundingBox();
      // Visible once focused: inside the viewport, not parked off-screen.
      expect(box && box.x >= 0 && box.y >= 0).toBe(true);

      await page.keyboard.press('Enter');
      expect(await focused(page)).toBe('#main');
      await page.keyboard.press('Tab');
      expect(await focused(page)).toBe('button');
      expect(await page.evaluate('document.activeElement.textContent.trim()')).toBe('DÁP mobilalkalmazás');
    });

    test('after a wrong password the focus is on the password field, which the error message describes', async () => {
      const page = await openPage();
      const citizen = await account(['email']);
      await toPasswordPage(page, 'Ügyfélkapu+ e-mailes kóddal');
      await submitPassword(page, citizen.username, 'wrong password');

      await page.getByRole('alert').waitFor();
      expect(await focused(page)).toBe('#password');
      const describedBy = await field(page, 'Jelszó').getAttribute('aria-describedby');
      expect(await page.locator(`#${describedBy}`).innerText()).toBe(await page.getByRole('alert').innerText());
      expect(await field(page, 'Felhasználónév').inputValue()).toBe(citizen.username);
    });

    test('the code field has the focus when the emailed-code page opens', async () => {
      const page = await openPage();
      await signInWithEmailedCode(page, async () => {
        expect(await focused(page)).toBe('#code');
      });
    });
  });

  test('"English" on the method chooser switches the pages to English', async () => {
    const page = await openPage();
    await page.goto((await beginSignIn(rp)).url.href);
    expect(await page.getAttribute('html', 'lang')).toBe('hu');

    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForURL(/lang=en/);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await heading(page)).toBe('Sign in');
    expect(await page.getByRole('link', { name: 'Skip to content' }).count()).toBe(1);
    await button(page, 'Ügyfélkapu+ with an emailed code').click();
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.getByLabel('Username', { exact: true }).count()).toBe(1);
    expect(await page.getByLabel('Password', { exact: true }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Magyar' }).count()).toBe(1);
  });

  test('on a phone (375×667) no sign-in page scrolls sideways', async () => {
    const page = await openPage(MOBILE);
    const overflow: Record<string, number> = {};
    async function measure(name: string) {
      overflow[name] = await horizontalOverflow(page);
      await screenshot(page, `mobile-${name}`);
    }

    const citizen = await account(['email']);
    await page.goto((await beginSignIn(rp)).url.href);
    await measure('method');
    await button(page, 'Ügyfélkapu+ e-mailes kóddal').click();
    await field(page, 'Jelszó').waitFor();
    await measure('password');
    await submitPassword(page, citizen.username, 'wrong password');
    await page.getByRole('alert').waitFor();
    await measure('password-error');
    await submitPassword(page, citizen.username);
    await field(page, 'E-mailben kapott kód').waitFor();
    await measure('email-code');

    const appUser = await account(['totp']);
    await toPasswordPage(page, 'Ügyfélkapu+ hitelesítő alkalmazással');
    await submitPassword(page, appUser.username);
    await field(page, 'Azonosító').waitFor();
    await measure('totp');
    await toPasswordPage(page, 'Ügyfélkapu+ e-mailes kóddal');
    await submitPassword(page, appUser.username);
    await page.getByText('Bejelentkezés – azonosítási mód').waitFor();
    await measure('factor-choice');
    await page.goto(new URL('/interaction/unknown', kapu.url).href);
    await measure('error');

    expect(overflow).toEqual({ method: 0, password: 0, 'password-error': 0, 'email-code': 0, totp: 0, 'factor-choice': 0, error: 0 });
  });

  test('at desktop size the sign-in pages fit too (screenshots with KAPU_SCREENSHOTS)', async () => {
    const page = await openPage(DESKTOP);
    const citizen = await account(['email']);
    await page.goto((await beginSignIn(rp)).url.href);
    await screenshot(page, 'desktop-method');
    await button(page, 'Ügyfélkapu+ e-mailes kóddal').click();
    await field(page, 'Jelszó').waitFor();
    await screenshot(page, 'desktop-password');
    await submitPassword(page, citizen.username, 'wrong password');
    await page.getByRole('alert').waitFor();
    await screenshot(page, 'desktop-password-error');
    await submitPassword(page, citizen.username);
    await field(page, 'E-mailben kapott kód').waitFor();
    await screenshot(page, 'desktop-email-code');
    expect(await horizontalOverflow(page)).toBe(0);
  });
});
