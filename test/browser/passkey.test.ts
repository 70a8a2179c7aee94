/**
 * Passkeys in a real browser (issue 19): Debian's Chromium with the DevTools protocol's virtual
 * authenticator (a platform authenticator that keeps discoverable credentials and verifies its
 * user). A citizen with the authenticator app adds a passkey in the portal (password again,
 * the app's code, then a name), signs in at an RP with it as the second factor and then with no username at all,
 * sets a forgotten password with the mailed code and the passkey, and removes it in the portal
 * (password again). Every new page is checked with axe, in
 * Hungarian at desktop width and in English at 320 px, under kapu's real CSP (axe is evaluated
 * through the DevTools protocol, which the CSP does not govern). A browser without WebAuthn is
 * not offered the passkey: a sentence says why.
 *
 * kapu runs on `localhost` here: WebAuthn takes no IP address as an RP ID.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import axe from 'axe-core';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { FACTORS } from '../../src/factors/index.ts';
import { Views } from '../../src/views.ts';
import { DESKTOP, type Violation, describeWithChromium, horizontalOverflow, launchChromium, seriousViolations } from '../helpers/chromium.ts';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';
import { VirtualAuthenticator } from '../helpers/virtual-authenticator.ts';

const WORDS = new Views(undefined, FACTORS);
const NARROW: BrowserContextOptions = { viewport: { width: 320, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

type Lang = 'hu' | 'en';
const SETTINGS: Array<{ name: string; lang: Lang; size: BrowserContextOptions }> = [
  { name: 'hu-desktop', lang: 'hu', size: { ...DESKTOP, locale: 'hu-HU' } },
  { name: 'en-320px', lang: 'en', size: { ...NARROW, locale: 'en-GB' } },
];

describeWithChromium('passkeys in Chromium with a virtual authenticator', () => {
  let kapu: TestKapu;
  let browser: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  // The RP's callback is a real page on this machine: the browser lands on it for sure.
  let rpServer: Server;
  let rpCallback: string;
  const found: Array<{ page: string; violations: Violation[] }> = [];
  const overflowing: string[] = [];
  const cspErrors: string[] = [];

  beforeAll(async () => {
    rpServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('rp callback'));
    await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
    rpCallback = `http://127.0.0.1:${(rpServer.address() as AddressInfo).port}/callback`;
    [kapu, browser] = await Promise.all([startTestKapu({ host: 'localhost' }), launchChromium()]);
    ({ rp } = await kapu.client({ clientName: 'Minta Ügyintézés', redirectUris: [rpCallback] }));
  });
  afterAll(async () => {
    await browser?.close();
    await kapu?.close();
    await new Promise((resolve) => rpServer?.close(resolve));
  });

  /** An RP's sign-in, sent back to the RP's page on this machine. */
  const rpSignIn = (params: Record<string, string> = {}) => beginSignIn(rp, { redirect_uri: rpCallback, ...params });

  /** Where the browser lands at the RP after `act`. */
  async function reachesRp(page: Page, act: () => Promise<void>): Promise<URL> {
    await act();
    await page.waitForURL((url) => url.href.startsWith(rpCallback));
    return new URL(page.url());
  }

  async function open(setting: (typeof SETTINGS)[number], options: { webauthn?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext(setting.size);
    if (options.webauthn === false) await context.addInitScript('delete window.PublicKeyCredential');
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    return page;
  }

  /** axe and sideways scrolling on the page as it is now. */
  async function check(page: Page, name: string): Promise<void> {
    if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(axe.source);
    const violations = await seriousViolations(page);
    if (violations.length > 0) found.push({ page: name, violations });
    if ((await horizontalOverflow(page)) > 0) overflowing.push(name);
  }

  for (const setting of SETTINGS) {
    test(`${setting.name}: add a passkey in the portal, sign in with it at an RP as second factor and without a username, remove it`, async () => {
      const t = (key: string, vars?: Record<string, string>) => WORDS.translator(setting.lang)(key, vars);
      const button = (page: Page, key: string) => page.getByRole('button', { name: t(key), exact: true });
      const field = (page: Page, key: string) => page.getByLabel(t(key), { exact: true });
      const username = `kulcs.${setting.lang}`;
      const { totpSecret } = await kapu.account(username, ['totp']);
      const page = await open(setting);
      const authenticator = await VirtualAuthenticator.attach(page);

      /** Username, password and the app's code, from the chooser's app button on. */
      const passwordAndApp = async () => {
        await button(page, 'factor.totp').click();
        await field(page, 'password.username').fill(username);
        await field(page, 'password.password').fill(PASSWORD);
        await button(page, 'password.submit').click();
        toMiddleOfStep(kapu.clock);
        await field(page, 'totp.code').fill(await appCode(totpSecret!, kapu.clock));
        await button(page, 'totp.submit').click();
      };

      // The portal: signed in with the password and the app, then "Passkey hozzáadása".
      await page.goto(`${kapu.url}/account?lang=${setting.lang}`);
      await button(page, 'account.sign_in').click();
      await passwordAndApp();
      await page.getByRole('link', { name: t('setup.passkey'), exact: true }).click();
      await check(page, `${setting.name} setup: password again`);
      await field(page, 'account.password_again').fill(PASSWORD);
      await button(page, 'setup.next').click();
      // A factor the account has proves the setup first: the app's code, of a later time step
      // than the one that signed in (a code is good once).
      await field(page, 'totp.code').waitFor();
      await check(page, `${setting.name} setup: the app proves it`);
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      await field(page, 'totp.code').fill(await appCode(totpSecret!, kapu.clock));
      await button(page, 'setup.confirm').click();
      await button(page, 'passkey.create').waitFor();
      await check(page, `${setting.name} setup: name and create`);
      // The keyboard alone: the name field has the focus; Tab to the button, Enter.
      await page.keyboard.type('Laptop');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.getByText(t('account.enrolled_passkey'), { exact: true }).waitFor();
      const [held] = await authenticator.credentials();
      expect(held).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

      await page.getByRole('link', { name: t('passkey.devices_link'), exact: true }).click();
      await expect(page.getByText('Laptop', { exact: true }).isVisible()).resolves.toBe(true);
      await expect(page.getByText(t('passkey.device_bound'), { exact: true }).isVisible()).resolves.toBe(true);
      await check(page, `${setting.name} portal: passkeys`);

      // At an RP, after the password: the app is the first method, the passkey is one switch away.
      const second = await rpSignIn();
      await page.goto(second.url.href);
      await button(page, 'factor.totp').click();
      await field(page, 'password.username').fill(username);
      await field(page, 'password.password').fill(PASSWORD);
      await button(page, 'password.submit').click();
      await button(page, 'factor.passkey').click();
      await button(page, 'passkey.use').waitFor();
      await check(page, `${setting.name} sign-in: passkey after the password`);
      expect((await second.finish(await reachesRp(page, () => button(page, 'passkey.use').click()))).claims()).toMatchObject({ acr: 'http://eidas.europa.eu/LoA/substantial', amr: ['pwd', 'hwk', 'user', 'mfa'] });

      // Passwordless: "Bejelentkezés passkey-jel", no username typed.
      const alone = await rpSignIn({ prompt: 'login' });
      await page.goto(alone.url.href);
      await button(page, 'factor.passkey').waitFor();
      await check(page, `${setting.name} chooser with the passkey`);
      await button(page, 'factor.passkey').click();
      await button(page, 'passkey.use').waitFor();
      expect(await page.locator('input[type=password], input[name=username]').count()).toBe(0);
      await check(page, `${setting.name} sign-in: passkey alone`);
      expect((await alone.finish(await reachesRp(page, () => button(page, 'passkey.use').click()))).claims()).toMatchObject({ amr: ['hwk', 'user', 'mfa'] });

      // A forgotten password: the mailed code, then the passkey instead of the app's code, its
      // button pressed from the keyboard; the answer is held until the new password is saved.
      await page.goto(`${kapu.url}/account/reset?lang=${setting.lang}`);
      await field(page, 'password.username').fill(username);
      await button(page, 'setup.send_code').click();
      await button(page, 'passkey.use').waitFor();
      await check(page, `${setting.name} forgotten password: the mailed code and a passkey`);
      await kapu.deps.sender.deliverDue();
      const resetMail = kapu.deps.devMailbox!.list().find((m) => m.to.includes(username) && /\d{6}/.test(m.text) && m.subject === t('mail.reset.subject'));
      await field(page, 'account.reset_email_code').fill(/(?:kód|code): (\d{6})/i.exec(resetMail!.text)![1]!);
      await button(page, 'passkey.use').focus();
      await page.keyboard.press('Enter');
      await page.getByText(t('passkey.ready'), { exact: true }).waitFor();
      // Its challenge is answered: no button that would ask again.
      expect(await button(page, 'passkey.use').count()).toBe(0);
      // Focus moves on to the new password.
      expect(await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")')).toBe('password');
      // (The same password again, so that the rest signs in as before.)
      await page.keyboard.type(PASSWORD);
      await field(page, 'account.password_new_again').fill(PASSWORD);
      await button(page, 'account.password_save').click();
      await page.getByText(t('account.password_reset'), { exact: true }).waitFor();
      // A reset ends every session: the portal is signed into again (the app's next code).
      kapu.clock.advance(30);
      await button(page, 'account.sign_in').click();
      await passwordAndApp();

      // Removed in the portal, with the password again; the account keeps its app.
      await page.goto(`${kapu.url}/account/devices/passkey?lang=${setting.lang}`);
      await field(page, 'account.password_again').fill(PASSWORD);
      await page.getByRole('button', { name: `${t('account.device_remove')}: Laptop`, exact: true }).click();
      await page.getByText(t('passkey.removed'), { exact: true }).waitFor();
      expect(await page.getByRole('link', { name: t('passkey.devices_link'), exact: true }).count()).toBe(0);
      await expect(page.getByRole('link', { name: t('setup.passkey'), exact: true }).isVisible()).resolves.toBe(true);
      await page.context().close();
    });
  }

  test('a browser without WebAuthn is not offered the passkey: a sentence says why, on the chooser and on a forgotten password\'s page', async () => {
    const setting = SETTINGS[0]!;
    const t = (key: string, vars?: Record<string, string>) => WORDS.translator(setting.lang)(key, vars);
    const page = await open(setting, { webauthn: false });
    await page.goto((await rpSignIn()).url.href);
    await page.getByText(t('needs.webauthn', { method: t('factor.passkey') }), { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: t('factor.passkey'), exact: true }).count()).toBe(0);
    await check(page, 'chooser without WebAuthn');
    // A forgotten password's page: no passkey button, a sentence instead; the rest works as ever.
    await page.goto(`${kapu.url}/account/reset`);
    await page.getByLabel(t('password.username'), { exact: true }).fill('akarki');
    await page.getByRole('button', { name: t('setup.send_code'), exact: true }).click();
    await page.getByText(t('passkey.unsupported_reset'), { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: t('passkey.use'), exact: true }).count()).toBe(0);
    await check(page, 'forgotten password without WebAuthn');
    await page.context().close();
  });

  test('no axe violations, no sideways scrolling, no CSP errors on the new pages', () => {
    expect(found).toEqual([]);
    expect(overflowing).toEqual([]);
    expect(cspErrors).toEqual([]);
  });
});
