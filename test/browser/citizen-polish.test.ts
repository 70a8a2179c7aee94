/**
 * What a citizen meets in Chromium once password-only sign-in has ended (LEGACY_LOGIN_UNTIL in
 * the past), with the new-browser mail on and codes that live five minutes: the chooser says
 * why "Ügyfélkapuval" is gone and which button sets Ügyfélkapu+ up; that button's set-up says
 * one thing about the code, with the code's real lifetime; the set-up mail and the new-browser
 * mail reach the test's SMTP server naming the service, the browser and the network; a known
 * browser gets no mail; a dead code tells an account without another method to start again;
 * the portal's app set-up survives a reload, a move is called a move, a wrong törlőkód is
 * listed as such; /developers fits a 320 px phone. Each page in both languages, axe on each,
 * at 320 px and at desktop size.
 */
import { FACTORS } from '../../src/factors/index.ts';
import { Views } from '../../src/views.ts';
import type { Browser, BrowserContext, BrowserContextOptions } from 'playwright-core';
import { browserOf } from '../../src/http/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, type ReceivedMail } from '../helpers/mail-sink.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';
import { DESKTOP, axeContext, describeWithChromium, horizontalOverflow, launchChromium, redirectedTo, screenshot, seriousViolations } from '../helpers/chromium.ts';

const RP_ORIGIN = 'https://rp.example.hu';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const PHONE_320: BrowserContextOptions = { viewport: { width: 320, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

type Lang = 'hu' | 'en';
const ALL_WORDS = new Views(undefined, FACTORS);
const LOCALES = Object.fromEntries((['hu', 'en'] as const).map((lang) => [lang, ALL_WORDS.messages(lang)])) as Record<Lang, Record<string, string>>;
/** A message as the pages say it (the words a citizen clicks and reads). */
const say = (lang: Lang, key: string, vars: Record<string, string | number> = {}) => LOCALES[lang][key]!.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name]));

/** Each flow once in Hungarian on a 320 px phone and once in English at desktop size, and the other way round where it is cheap. */
const SETTINGS = [
  { name: 'hu-320', lang: 'hu', size: PHONE_320 },
  { name: 'en-desktop', lang: 'en', size: DESKTOP },
] as const;
const ALL = [...SETTINGS, { name: 'en-320', lang: 'en', size: PHONE_320 }, { name: 'hu-desktop', lang: 'hu', size: DESKTOP }] as const;
type Setting = (typeof ALL)[number];

const codeIn = (m: ReceivedMail) => /(?:kód|code): (\d{6})/i.exec(m.text)![1]!;
const lines = (m: ReceivedMail) => m.text.split('\n');
const isCodeMail = (m: ReceivedMail) => /kód$|code$/.test(m.subject);

describeWithChromium('citizen polish, in a real browser', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let chromium: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let contexts: BrowserContext[] = [];
  let people = 0;

  beforeAll(async () => {
    mail = await new MailSink().start();
    [kapu, chromium] = await Promise.all([
      startTestKapu({ env: { SMTP_URL: mail.url, LEGACY_LOGIN_UNTIL: '2025-01-16', CODE_TTL_SECONDS: '300', NEW_BROWSER_MAIL: 'true' } }),
      launchChromium(),
    ]);
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

  function citizen(factors: string[] = []) {
    people += 1;
    return kapu.account(`simitas.${people}`, factors);
  }

  /** A browser in `setting`, its RP callback answered by itself; axe and sideways scrolling checked on demand. */
  async function at(setting: Setting) {
    const context = await axeContext(chromium, { ...setting.size, locale: setting.lang === 'hu' ? 'hu-HU' : 'en-GB' });
    contexts.push(context);
    await context.route(`${RP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' }));
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const t = (key: string, vars?: Record<string, string | number>) => say(setting.lang, key, vars);
    return {
      page,
      t,
      async holds(name: string): Promise<void> {
        await screenshot(page, `polish-${name}-${setting.name}`);
        const where = `${name} (${setting.name})`;
        expect({ page: where, violations: await seriousViolations(page), overflow: await horizontalOverflow(page) }).toEqual({ page: where, violations: [], overflow: 0 });
      },
      button: (key: string) => page.getByRole('button', { name: t(key), exact: true }),
      field: (key: string) => page.getByLabel(t(key), { exact: true }),
      async signInAtPortal(username: string): Promise<void> {
        await page.goto(`${kapu.url}/account${setting.lang === 'en' ? '?lang=en' : ''}`);
        await page.getByRole('button', { name: t('account.sign_in'), exact: true }).click();
        await page.getByRole('button', { name: t('method.legacy'), exact: true }).click();
        await page.getByLabel(t('password.username'), { exact: true }).fill(username);
        await page.getByLabel(t('password.password'), { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: t('password.submit'), exact: true }).click();
        await page.waitForURL(`${kapu.url}/account`);
      },
    };
  }

  /** Every mail to `email` queued so far (the outbox keeps a row for each, sent or not). */
  const queued = async (email: string) => (await kapu.deps.db.selectFrom('mail_outbox').select('id').where('recipient', '=', email).execute()).length;

  test.each(SETTINGS)(
    'after the cut-off: the chooser says why, its set-up button gets Ügyfélkapu+ inline, the mails name service, browser and network; a known browser gets none ($name)',
    async (setting) => {
      const account = await citizen();
      const b = await at(setting);
      const { page, t } = b;
      const signIn = await beginSignIn(rp);
      await page.goto(signIn.url.href);

      // The chooser: no "Ügyfélkapuval", and one sentence under the buttons saying since when and what to press.
      expect(await page.getByRole('button', { name: t('method.legacy'), exact: true }).count()).toBe(0);
      const day = new Intl.DateTimeFormat(setting.lang === 'hu' ? 'hu-HU' : 'en-GB', { dateStyle: 'long', timeZone: 'Europe/Budapest' }).format(new Date('2025-01-16T12:00:00Z'));
      const ended = t('method.legacy_ended', { date: day, setUp: t('method.email') });
      expect(await page.locator('#legacy-ended').innerText()).toBe(ended);
      if (setting.lang === 'hu') expect(ended).toContain('2025. január 16. óta nem érhető el');
      const setUpButton = b.button('method.email');
      // The button it names is described, for a screen reader too, as the way in for a citizen who has none.
      expect(await setUpButton.getAttribute('aria-describedby').then((id) => page.locator(`#${id}`).innerText())).toBe(t('method.set_up_hint'));
      await b.holds('chooser-after-cutoff');

      await setUpButton.click();
      await b.field('password.username').fill(account.username);
      await b.field('password.password').fill(PASSWORD);
      await b.button('password.submit').click();
      await page.getByRole('heading', { name: t('upgrade.title') }).waitFor();
      let since = mail.received.length;
      await b.button('setup.email').click();
      await b.field('setup.email_code').waitFor();
      // One word about the code, by its name, with its real lifetime (CODE_TTL_SECONDS=300).
      expect(await page.locator('[role=status], [role=alert]').count()).toBe(0);
      expect(await page.locator('main').innerText()).toContain(t('setup.email_sent_to', { email: account.email, minutes: 5 }));
      if (setting.lang === 'hu') expect(await page.locator('main').innerText()).not.toContain('hitelesítő kód');
      await b.holds('inline-setup');

      // The set-up mail names the service being signed in to and this browser.
      const browserName = browserOf(String(await page.evaluate('navigator.userAgent')))!;
      const setUpMail = await mail.next((m) => m.to.includes(account.email) && isCodeMail(m), since);
      expect(lines(setUpMail)).toEqual(expect.arrayContaining([`${t('mail.request.service')}: Minta Ügyintézés`, `${t('mail.request.browser')}: ${browserName}`]));
      expect(setUpMail.text).toContain(t('mail.lifetime', { minutes: 5 }));
      since = mail.received.length;
      await b.field('setup.email_code').fill(codeIn(setUpMail));
      const callback = await redirectedTo(page, RP_ORIGIN, () => b.button('setup.confirm').click());
      expect((await signIn.finish(callback)).claims()?.acr).toBe(SUBSTANTIAL);

      // A browser new to the account: a mail saying when, where, which browser and network, and what to do.
      const told = await mail.next((m) => m.to.includes(account.email) && m.subject === t('mail.new_browser.subject'), since);
      expect(lines(told)).toEqual(
        expect.arrayContaining([
          t('mail.new_browser.body'),
          `${t('mail.request.service')}: Minta Ügyintézés`,
          `${t('mail.request.browser')}: ${browserName}`,
          `${t('mail.request.network')}: ${t('mail.request.network_local')}`,
          t('mail.new_browser.not_you', { reset: `${kapu.url}/account/reset` }),
        ]),
      );
      expect(told.text).toMatch(new RegExp(`${t('mail.new_browser.time')}: .*\\d`));
      const after = await queued(account.email);

      // The same browser again (now with the emailed code): no mail but the code's.
      const again = await beginSignIn(rp, { prompt: 'login' });
      await page.goto(again.url.href);
      await b.button('method.email').click();
      await b.field('password.username').fill(account.username);
      await b.field('password.password').fill(PASSWORD);
      since = mail.received.length;
      await b.button('password.submit').click();
      await b.field('email.code').fill(codeIn(await mail.next((m) => m.to.includes(account.email) && isCodeMail(m), since)));
      const back = await redirectedTo(page, RP_ORIGIN, () => b.button('email.submit').click());
      expect((await again.finish(back)).claims()?.sub).toBe(account.id);
      expect(await queued(account.email)).toBe(after + 1);
    },
    240_000,
  );

  test.each(ALL)('the chooser after the cut-off holds at every size, in both languages ($name)', async (setting) => {
    const b = await at(setting);
    await b.page.goto((await beginSignIn(rp)).url.href);
    await b.page.locator('#legacy-ended').waitFor();
    await b.holds('chooser-after-cutoff');
  });

  test.each(SETTINGS)('a dead code, for an account with no other method, says to start again — not to choose another method ($name)', async (setting) => {
    const account = await citizen(['email']);
    const b = await at(setting);
    const { page } = b;
    await page.goto((await beginSignIn(rp)).url.href);
    await b.button('method.email').click();
    await b.field('password.username').fill(account.username);
    await b.field('password.password').fill(PASSWORD);
    const since = mail.received.length;
    await b.button('password.submit').click();
    const wrong = codeIn(await mail.next((m) => m.to.includes(account.email) && isCodeMail(m), since)).replace(/\d/g, (d) => String((Number(d) + 1) % 10));
    for (let i = 0; i < 5; i += 1) {
      await b.field('email.code').fill(wrong);
      await b.button('email.submit').click();
      await page.getByRole('alert').waitFor();
    }
    expect(await page.getByRole('alert').innerText()).toBe(b.t('code.exhausted_alone'));
    await b.holds('dead-code-alone');
  });

  test.each(SETTINGS)(
    'the portal: reloading the törlőkód page says the app is set up; a move is called a move; a wrong törlőkód is listed as one ($name)',
    async (setting) => {
      const account = await citizen();
      const b = await at(setting);
      const { page, t } = b;
      await b.signInAtPortal(account.username);

      // The authenticator app, then the törlőkód page, reloaded.
      await page.getByRole('link', { name: t('setup.totp'), exact: true }).click();
      await b.field('account.password_again').fill(PASSWORD);
      await b.button('setup.next').click();
      const secret = (await page.locator('#totp-key').innerText()).replace(/-/g, '');
      toMiddleOfStep(kapu.clock);
      await b.field('totp.code').fill(await appCode(secret, kapu.clock));
      await b.button('setup.confirm').click();
      const recoveryCode = await page.locator('#recovery-code').innerText();
      await page.reload();
      await page.waitForURL(/\/account\?notice=/);
      expect(await page.getByRole('status').innerText()).toBe(t('account.enrolled_totp_before'));
      expect(await page.locator('body').innerText()).not.toContain(recoveryCode);
      await b.holds('home-after-reload');

      // "Beállítás másik eszközre": its own heading, before and after the password.
      await page.getByRole('link', { name: t('setup.move'), exact: true }).click();
      expect(await page.locator('h1').innerText()).toBe(t('setup.move'));
      await b.holds('move-start');
      await b.field('account.password_again').fill(PASSWORD);
      await b.button('setup.next').click();
      // The old phone proves the move first (SPEC §5), on a page of the same name.
      expect([await page.locator('h1').innerText(), await page.title()]).toEqual([t('setup.move'), `${t('setup.move')} – Ügyfélkapu+`]);
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      await b.field('totp.code').fill(await appCode(secret, kapu.clock));
      await b.button('setup.confirm').click();
      await page.locator('#totp-key').waitFor();
      expect([await page.locator('h1').innerText(), await page.title()]).toEqual([t('setup.move'), `${t('setup.move')} – Ügyfélkapu+`]);
      await b.holds('move-setup');

      // A wrong törlőkód with the right password, then the list of events.
      const stranger = await at(setting);
      await stranger.page.goto(`${kapu.url}/account/lost-phone${setting.lang === 'en' ? '?lang=en' : ''}`);
      await stranger.field('password.username').fill(account.username);
      await stranger.field('password.password').fill(PASSWORD);
      await stranger.field('account.recovery_code').fill('AAAA-BBBB-CCCC-DDDD');
      await stranger.button('account.lost_phone_submit').click();
      await stranger.page.getByRole('alert').waitFor();
      await page.goto(`${kapu.url}/account/events`);
      expect(await page.locator('tbody tr td:nth-child(2)').first().innerText()).toBe(t('event.recovery.code_failed'));
      await b.holds('events');
    },
    240_000,
  );

  test.each(SETTINGS)('the set-up and email-change dialogs and the forgotten password say the code’s real lifetime; the reset page shows the mail’s munkamenet-azonosító ($name)', async (setting) => {
    const account = await citizen();
    const b = await at(setting);
    const { page, t } = b;
    await b.signInAtPortal(account.username);
    await page.getByRole('link', { name: t('setup.email'), exact: true }).click();
    await b.field('account.password_again').fill(PASSWORD);
    await b.button('setup.send_code').click();
    await b.field('setup.email_code').waitFor();
    expect(await page.locator('dialog').innerText()).toContain(t('setup.email_sent_to', { email: account.email, minutes: 5 }));
    await b.holds('setup-dialog');

    await page.goto(`${kapu.url}/account/email`);
    await b.field('account.email_new').fill(`uj.${account.email}`);
    await b.field('account.password_again').fill(PASSWORD);
    await b.button('setup.send_code').click();
    expect(await page.getByRole('status').innerText()).toBe(t('account.email_code_sent', { email: `uj.${account.email}`, minutes: 5 }));
    await b.holds('email-dialog');

    const reset = await at(setting);
    await reset.page.goto(`${kapu.url}/account/reset${setting.lang === 'en' ? '?lang=en' : ''}`);
    await reset.field('password.username').fill(account.username);
    const since = mail.received.length;
    await reset.button('setup.send_code').click();
    const resetMail = await mail.next((m) => m.to.includes(account.email) && m.subject === t('mail.reset.subject'), since);
    expect(await reset.field('email.tag').inputValue()).toBe(/: (\d{3})$/m.exec(resetMail.text.split('\n').find((l) => l.startsWith(t('mail.tag')))!)![1]);
    // The page's notice (a passkey part below has a status line of its own, empty until used).
    expect(await reset.page.getByRole('status').filter({ hasText: /\S/ }).innerText()).toBe(t('account.reset_sent', { minutes: 5 }));
    await reset.holds('reset-code');
  });

  test.each(ALL)('/developers fits the page, its long addresses wrapped ($name)', async (setting) => {
    const b = await at(setting);
    await b.page.goto(`${kapu.url}/developers${setting.lang === 'en' ? '?lang=en' : ''}`);
    expect(await b.page.locator('h1').innerText()).toBe(b.t('developers.title'));
    await b.holds('developers');
  });
});
