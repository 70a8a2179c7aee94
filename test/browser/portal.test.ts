/**
 * The account portal in a real browser (Debian's Chromium): a citizen gets Ügyfélkapu+ by the
 * seed's seven steps, sets the app up from a QR code kapu drew (decoded back here), keeps and
 * uses the törlőkód, moves the app, changes and resets the password, and gets Ügyfélkapu+
 * inline at an RP after the cut-off. Every flow is done with the keyboard alone, once with
 * JavaScript (every page checked with axe, and for sideways scrolling) and once without, in
 * Hungarian and English, at phone and desktop widths.
 */
import { typedProof } from '../helpers/core.ts';
import { jest } from '@jest/globals';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import axe from 'axe-core';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, type ReceivedMail } from '../helpers/mail-sink.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';
import { DESKTOP, MOBILE, type Violation, axeContext, describeWithChromium, horizontalOverflow, launchChromium, qrCodeOn, redirectedTo, screenshot } from '../helpers/chromium.ts';

/** The page's document, inside functions that run in the browser (this code has no DOM types). */
interface InPage {
  document: { activeElement: unknown };
}

/** Tab until `target` has the focus (the keyboard alone reaches it), at most 60 times. */
async function tabTo(page: Page, target: Locator): Promise<void> {
  // Found once: the locator would look its role and name up in the whole page again after every Tab.
  const element = await target.first().elementHandle();
  try {
    for (let i = 0; i < 60; i += 1) {
      await page.keyboard.press('Tab');
      if (await element.evaluate((el) => el === (globalThis as unknown as InPage).document.activeElement)) return;
    }
  } finally {
    await element.dispose();
  }
  throw new Error(`Tab never reached ${target.toString()} on ${page.url()}`);
}

const RP_ORIGIN = 'https://rp.example.hu';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const NEW_PASSWORD = 'a long new password 2026';

type Lang = 'hu' | 'en';
interface Setting {
  name: string;
  lang: Lang;
  size: BrowserContextOptions;
  javaScript: boolean;
}

/** Each flow runs twice: with JavaScript (and axe) and without, in another language and size. */
const SETTINGS: Array<[Setting, Setting]> = [
  [
    { name: 'hu-phone-js', lang: 'hu', size: MOBILE, javaScript: true },
    { name: 'en-desktop-nojs', lang: 'en', size: DESKTOP, javaScript: false },
  ],
  [
    { name: 'en-phone-js', lang: 'en', size: MOBILE, javaScript: true },
    { name: 'hu-desktop-nojs', lang: 'hu', size: DESKTOP, javaScript: false },
  ],
];
const EACH = SETTINGS.flat();

/** What the citizen reads, in each language. */
const WORDS = {
  hu: {
    signIn: 'Bejelentkezés',
    legacy: 'Ügyfélkapuval',
    email: 'Ügyfélkapu+ e-mailes kóddal',
    app: 'Ügyfélkapu+ hitelesítő alkalmazással',
    username: 'Felhasználónév',
    password: 'Jelszó',
    again: 'Jelszó (újra)',
    getEmail: 'Ügyfélkapu+ igénylés e-mailes kóddal',
    getApp: 'Ügyfélkapu+ igénylés hitelesítő alkalmazással',
    sendCode: 'Megerősítő kód küldése',
    next: 'Tovább',
    confirmationCode: 'Megerősítő kód',
    confirm: 'Megerősítés',
    appCode: 'Azonosító',
    wroteItDown: 'Leírtam, tovább',
    move: 'Beállítás másik eszközre',
    lostPhone: 'Elveszett telefon (törlőkód)',
    recoveryCode: 'Törlőkód',
    removeApp: 'Hitelesítő alkalmazás törlése',
    changePassword: 'Jelszó módosítása',
    current: 'Jelenlegi jelszó',
    emailedCode: 'E-mailben kapott kód',
    newPassword: 'Új jelszó',
    newPasswordAgain: 'Új jelszó még egyszer',
    save: 'Új jelszó mentése',
    forgotten: 'Elfelejtett jelszó',
    upgrade: 'Ügyfélkapu+ szükséges',
  },
  en: {
    signIn: 'Sign in',
    legacy: 'Ügyfélkapu (password only)',
    email: 'Ügyfélkapu+ with an emailed code',
    app: 'Ügyfélkapu+ with an authenticator app',
    username: 'Username',
    password: 'Password',
    again: 'Password (again)',
    getEmail: 'Get Ügyfélkapu+ with an emailed code',
    getApp: 'Get Ügyfélkapu+ with an authenticator app',
    sendCode: 'Send confirmation code',
    next: 'Next',
    confirmationCode: 'Confirmation code',
    confirm: 'Confirm',
    appCode: 'Code',
    wroteItDown: 'I have written it down, continue',
    move: 'Set up on another device',
    lostPhone: 'Lost phone (removal code)',
    recoveryCode: 'Removal code',
    removeApp: 'Remove the authenticator app',
    changePassword: 'Change password',
    current: 'Current password',
    emailedCode: 'Code from the email',
    newPassword: 'New password',
    newPasswordAgain: 'New password again',
    save: 'Save the new password',
    forgotten: 'Forgotten password',
    upgrade: 'Ügyfélkapu+ required',
  },
};

function codeIn(mail: ReceivedMail): string {
  const code = /(?:kód|code): (\d{6})/i.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in "${mail.subject}"`);
  return code;
}

/** Every axe violation (any impact) of WCAG 2.0/2.1 A and AA on the page as it is now. */
async function violations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.addScriptTag({ content: axe.source });
  const options = JSON.stringify({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
  return (await page.evaluate(`axe.run(document, ${options}).then((r) => r.violations.map((v) => ({
    rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ') + ' → ' + n.failureSummary),
  })))`)) as Violation[];
}

// Each flow is a dozen keyboard-driven pages, axe on each: on a busy 2-core machine that takes a while.
jest.setTimeout(180_000);

describeWithChromium('the account portal in a real browser', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let chromium: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let contexts: BrowserContext[] = [];
  let people = 0;
  /** The pages already checked with axe, by setting. */
  const checkedPages = new Map<string, Set<string>>();

  beforeAll(async () => {
    mail = await new MailSink().start();
    [kapu, chromium] = await Promise.all([startTestKapu({ env: { SMTP_URL: mail.url, LEGACY_LOGIN_UNTIL: '2025-01-16' } }), launchChromium()]);
    ({ rp } = await kapu.client({ clientName: 'Minta Ügyintézés' }));
  });
  afterEach(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    contexts = [];
  });
  afterAll(async () => {
    await chromium?.close();
    await kapu?.close();
    await mail?.stop();
  });

  async function citizen(factors: string[] = []) {
    people += 1;
    return kapu.account(`bongeszo.${people}`, factors);
  }

  /**
   * A citizen at a browser in `setting`. Every action is the keyboard's: Tab to a control,
   * type, Enter. With JavaScript, each page met is checked with axe.
   */
  async function at(setting: Setting) {
    const context = await axeContext(chromium, { ...setting.size, javaScriptEnabled: setting.javaScript, locale: setting.lang === 'en' ? 'en-GB' : 'hu-HU' });
    contexts.push(context);
    await context.route(`${RP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' }));
    const page = await context.newPage();
    const w = WORDS[setting.lang];
    // A page is checked once per setting in this file: the flows meet the landing and home pages again and again.
    const checked = checkedPages.get(setting.name) ?? new Set<string>();
    checkedPages.set(setting.name, checked);

    const b = {
      page,
      w,
      async check(name: string): Promise<void> {
        if (!setting.javaScript || checked.has(name)) return;
        checked.add(name);
        await screenshot(page, `portal-${name}-${setting.name}`);
        const page_ = `${name} (${setting.name})`;
        expect({ page: page_, violations: await violations(page), overflow: await horizontalOverflow(page) }).toEqual({ page: page_, violations: [], overflow: 0 });
      },
      async go(path: string, name: string): Promise<void> {
        await page.goto(`${kapu.url}${path}`);
        await b.check(name);
      },
      async press(name: string, role: 'button' | 'link' = 'button'): Promise<void> {
        await tabTo(page, page.getByRole(role, { name, exact: true }));
        await Promise.all([page.waitForEvent('framenavigated'), page.keyboard.press('Enter')]);
        await page.waitForLoadState();
      },
      async type(label: string, text: string): Promise<void> {
        await tabTo(page, page.getByLabel(label, { exact: true }));
        await page.keyboard.type(text);
      },
      /** Signs in at the portal (with a factor: `answer` gives the code, typed into its field). */
      async portalSignIn(username: string, method?: { label: string; field: string; answer: () => Promise<string> }): Promise<void> {
        await b.go(setting.lang === 'en' ? '/account?lang=en' : '/account', 'landing');
        await b.press(w.signIn);
        await b.press(method?.label ?? w.legacy);
        await b.type(w.username, username);
        await b.type(w.password, PASSWORD);
        await b.press(w.signIn);
        if (method) {
          const code = await method.answer();
          await b.type(method.field, code);
          await b.press(setting.lang === 'hu' ? 'Bejelentkezés' : 'Sign in');
        }
        expect(new URL(page.url()).pathname).toBe('/account');
        await b.check('home');
      },
      async status(): Promise<string> {
        return page.getByRole('status').innerText();
      },
    };
    return b;
  }

  const emailSignIn = (w: (typeof WORDS)['hu'], email: string, since = mail.received.length) => ({
    label: w.email,
    field: w === WORDS.hu ? 'E-mailben kapott kód' : 'Code from the email',
    answer: async () => codeIn(await mail.next((m) => m.to.includes(email), since)),
  });

  describe.each(SETTINGS)('flows, %#', (...pair) => {
    test.each(pair)('the seed’s steps: password again, "Megerősítő kód küldése", the code in a dialog, "Megerősítés" ($name)', async (setting) => {
      const account = await citizen();
      const b = await at(setting);
      await b.portalSignIn(account.username);
      await b.press(b.w.getEmail, 'link');
      await b.check('setup-email');
      await b.type(b.w.again, PASSWORD);
      const since = mail.received.length;
      await b.press(b.w.sendCode);
      const dialog = b.page.locator('dialog[data-modal]');
      // A modal dialog where the script runs; part of the page where it does not.
      expect(await dialog.evaluate((d) => d.matches(':modal'))).toBe(setting.javaScript);
      const codeMail = await mail.next((m) => m.to.includes(account.email), since);
      expect(codeMail.subject).toBe(setting.lang === 'hu' ? 'Ügyfélkapu+ igénylés – Megerősítő kód' : 'Ügyfélkapu+ setup – confirmation code');
      await b.check('setup-email-dialog');
      await b.type(b.w.confirmationCode, codeIn(codeMail));
      await b.press(b.w.confirm);
      expect(await b.status()).toMatch(/Beállította az Ügyfélkapu\+ e-mailes|Ügyfélkapu\+ with an emailed code is set up/);
      await mail.next((m) => m.to.includes(account.email) && /Sikeres Ügyfélkapu\+ igénylés|Ügyfélkapu\+ set up/.test(m.subject), since);
      await b.check('home-with-email');
    });

    test.each(pair)('the app: a QR code that decodes to the key shown beside it, the first code, the törlőkód once; then the lost phone ($name)', async (setting) => {
      const account = await citizen(['email']);
      const b = await at(setting);
      await b.portalSignIn(account.username, emailSignIn(b.w, account.email));
      await b.press(b.w.getApp, 'link');
      await b.type(b.w.again, PASSWORD);
      const since = mail.received.length;
      await b.press(b.w.next);
      // A factor the account has proves the setup first (SPEC §5): a code to its address.
      await b.check('setup-proof');
      await b.type(b.w.confirmationCode, codeIn(await mail.next((m) => m.to.includes(account.email), since)));
      await b.press(b.w.confirm);
      await b.check('setup-app');
      const secret = (await b.page.locator('#totp-key').innerText()).replace(/-/g, '');
      if (setting.javaScript) {
        // The picture, as a phone's camera would read it.
        const uri = new URL(await qrCodeOn(b.page, '.qr img', 300));
        expect({ protocol: uri.protocol, secret: uri.searchParams.get('secret'), issuer: uri.searchParams.get('issuer') }).toEqual({ protocol: 'otpauth:', secret, issuer: 'Ügyfélkapu+' });
        expect(decodeURIComponent(uri.pathname)).toContain(account.username);
      }
      toMiddleOfStep(kapu.clock);
      await b.type(b.w.appCode, await appCode(secret, kapu.clock));
      await b.press(b.w.confirm);
      const recoveryCode = await b.page.locator('#recovery-code').innerText();
      expect(recoveryCode).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
      await b.check('recovery-code');
      await b.press(b.w.wroteItDown, 'link');
      expect(await b.page.locator('body').innerText()).not.toContain(recoveryCode);

      const lost = await at(setting);
      await lost.go(setting.lang === 'en' ? '/account?lang=en' : '/account', 'landing');
      await lost.press(b.w.lostPhone, 'link');
      await lost.check('lost-phone');
      await lost.type(b.w.username, account.username);
      await lost.type(b.w.password, PASSWORD);
      await lost.type(b.w.recoveryCode, recoveryCode);
      await lost.press(b.w.removeApp);
      expect(await lost.status()).toMatch(/A hitelesítő alkalmazást töröltük|The authenticator app has been removed/);
      expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual(['email']);
    });

    test.each(pair)('moving the app to another phone: the old phone’s codes stop at once ($name)', async (setting) => {
      const account = await citizen(['totp']);
      const b = await at(setting);
      toMiddleOfStep(kapu.clock);
      await b.portalSignIn(account.username, { label: b.w.app, field: b.w.appCode, answer: () => appCode(account.totpSecret!, kapu.clock) });
      await b.press(b.w.move, 'link');
      await b.type(b.w.again, PASSWORD);
      await b.press(b.w.next);
      // The old phone proves the move first (SPEC §5).
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      await b.type(b.w.appCode, await appCode(account.totpSecret!, kapu.clock));
      await b.press(b.w.confirm);
      const secret = (await b.page.locator('#totp-key').innerText()).replace(/-/g, '');
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      await b.type(b.w.appCode, await appCode(secret, kapu.clock));
      await b.press(b.w.confirm);
      await b.page.locator('#recovery-code').waitFor();

      kapu.clock.advance(30);
      const owner = { id: account.id, username: account.username, name: 'x', email: account.email };
      const verify = async (code: string) => kapu.deps.uow.transaction((repos) => typedProof(kapu.deps.factors.get('totp')).verify({ flowId: 'x', account: owner, lang: 'hu', repos }, { code }));
      expect((await verify(await appCode(account.totpSecret!, kapu.clock))).ok).toBe(false);
      expect((await verify(await appCode(secret, kapu.clock))).ok).toBe(true);
    });

    test.each(pair)('a new password, then a forgotten one ($name)', async (setting) => {
      const account = await citizen(['email']);
      const b = await at(setting);
      await b.portalSignIn(account.username, emailSignIn(b.w, account.email));
      await b.press(b.w.changePassword, 'link');
      await b.check('password');
      await b.type(b.w.current, PASSWORD);
      let since = mail.received.length;
      await b.press(b.w.next);
      await b.check('password-new');
      await b.type(b.w.emailedCode, codeIn(await mail.next((m) => m.to.includes(account.email), since)));
      await b.type(b.w.newPassword, NEW_PASSWORD);
      await b.type(b.w.newPasswordAgain, NEW_PASSWORD);
      await b.press(b.w.save);
      expect(await b.status()).toMatch(/Az új jelszavát elmentettük|Your new password is saved/);

      const reset = await at(setting);
      await reset.go(setting.lang === 'en' ? '/account?lang=en' : '/account', 'landing');
      await reset.press(b.w.forgotten, 'link');
      await reset.check('reset');
      await reset.type(b.w.username, account.username);
      since = mail.received.length;
      await reset.press(b.w.sendCode);
      await reset.check('reset-new');
      await reset.type(b.w.emailedCode, codeIn(await mail.next((m) => m.to.includes(account.email), since)));
      await reset.type(b.w.newPassword, PASSWORD);
      await reset.type(b.w.newPasswordAgain, PASSWORD);
      await reset.press(b.w.save);
      expect(await reset.status()).toMatch(/Jelentkezzen be vele|Sign in with it/);
    });

    test.each(pair)('after the cut-off, at an RP: a password-only account gets Ügyfélkapu+ inline, and the RP gets substantial ($name)', async (setting) => {
      const account = await citizen();
      const b = await at(setting);
      const signIn = await beginSignIn(rp, { ui_locales: setting.lang });
      await b.page.goto(signIn.url.href);
      await b.press(b.w.email);
      await b.type(b.w.username, account.username);
      await b.type(b.w.password, PASSWORD);
      await b.press(b.w.signIn);
      await b.page.getByRole('heading', { name: b.w.upgrade }).waitFor();
      await b.check('upgrade');
      const since = mail.received.length;
      await b.press(b.w.getEmail);
      await b.check('inline-setup');
      await b.type(b.w.confirmationCode, codeIn(await mail.next((m) => m.to.includes(account.email), since)));
      await tabTo(b.page, b.page.getByRole('button', { name: b.w.confirm, exact: true }));
      const callback = await redirectedTo(b.page, RP_ORIGIN, () => b.page.keyboard.press('Enter'));
      expect((await signIn.finish(callback)).claims()?.acr).toBe(SUBSTANTIAL);
    });
  });

  test.each(EACH.filter((s) => s.javaScript))('every other portal page, checked with axe ($name)', async (setting) => {
    const account = await citizen(['email']);
    const b = await at(setting);
    await b.portalSignIn(account.username, emailSignIn(b.w, account.email));
    for (const path of ['/account/email', '/account/events', '/account/remove/email', '/account/setup/totp']) await b.go(path, path);
  });
});
