/**
 * The citizen's language: the RP's ui_locales, then a choice remembered from an earlier visit,
 * then the browser's Accept-Language, then Hungarian; a choice made during a sign-in holds for
 * the rest of it; a mail sent during a sign-in follows its pages, one sent outside it the
 * account's own language (its last sign-in's). And every message exists in both languages.
 */
import { FACTORS } from '../../src/factors/index.ts';
import { Views } from '../../src/views.ts';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hungarianMidnight } from '../../src/config/index.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { nextCodeMail } from '../helpers/email.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { kapuWithMail } from '../helpers/suite.ts';

type Rp = Awaited<ReturnType<TestKapu['client']>>['rp'];

const CHOOSER = { hu: 'Bejelentkezés', en: 'Sign in' };
const heading = (page: Page) => page.text('h1');
const title = (page: Page) => page.text('title');

describe('the language of the sign-in pages', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Rp;
  let accounts = 0;

  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  async function chooser(headers: Record<string, string>, params: Record<string, string> = {}, browser = new Browser(kapu.url, headers)) {
    const signIn = await beginSignIn(rp, params);
    return { browser, signIn, page: await browser.go(signIn.url) };
  }

  test.each([
    ['en', 'en'],
    ['en-GB,en;q=0.9', 'en'],
    ['en-US,en;q=0.8,hu;q=0.5', 'en'],
    ['de-DE,de;q=0.9,en;q=0.7,hu;q=0.3', 'en'],
    ['hu-HU,hu;q=0.9,en;q=0.8', 'hu'],
    ['fr', 'hu'],
    ['', 'hu'],
  ] as const)('Accept-Language "%s" shows the chooser in %s', async (header, lang) => {
    const { page } = await chooser(header ? { 'accept-language': header } : {});
    expect(page.doc.querySelector('html')?.getAttribute('lang')).toBe(lang);
    expect(heading(page)).toBe(CHOOSER[lang]);
  });

  test("the RP's ui_locales outranks the browser's languages, in both directions", async () => {
    expect(heading((await chooser({ 'accept-language': 'en-GB' }, { ui_locales: 'hu' })).page)).toBe(CHOOSER.hu);
    expect(heading((await chooser({ 'accept-language': 'hu' }, { ui_locales: 'en' })).page)).toBe(CHOOSER.en);
  });

  test('a language picked with the link is remembered for the next visit (over Accept-Language, under ui_locales)', async () => {
    const first = await chooser({ 'accept-language': 'hu' });
    expect(heading(first.page)).toBe(CHOOSER.hu);
    const english = await first.browser.go(first.page.doc.querySelector('nav.lang a')!.getAttribute('href')!);
    expect(heading(english)).toBe(CHOOSER.en);

    // A new sign-in in the same browser, days later: English, though the browser says Hungarian.
    const again = await chooser({}, {}, first.browser);
    expect(heading(again.page)).toBe(CHOOSER.en);
    // An RP that knows its citizen asks for Hungarian: its ui_locales wins over the old choice.
    expect(heading((await chooser({}, { ui_locales: 'hu' }, first.browser)).page)).toBe(CHOOSER.hu);
  });

  test('a language picked during a sign-in holds for its next steps, even against ui_locales', async () => {
    const { browser, page } = await chooser({}, { ui_locales: 'hu' });
    const english = await browser.go(page.doc.querySelector('nav.lang a')!.getAttribute('href')!);
    const passwordPage = await browser.submit(english, '/method', {}, { name: 'method', value: 'email' });
    expect(heading(passwordPage)).toBe('Sign in – password');
    expect(title(passwordPage)).toBe('Sign in – password – Ügyfélkapu+');
  });

  test('each step says where the citizen is, in its title and heading, in both languages', async () => {
    accounts += 1;
    const username = `lepes.${accounts}`;
    await kapu.account(username, ['email']);
    for (const [lang, expected] of [
      ['hu', { password: 'Bejelentkezés – jelszó', code: 'Bejelentkezés – e\u2011mailes kód' }],
      ['en', { password: 'Sign in – password', code: 'Sign in – emailed code' }],
    ] as const) {
      const { browser, page } = await chooser({ 'accept-language': lang });
      expect(title(page)).toBe(`${CHOOSER[lang]} – Ügyfélkapu+`);
      const passwordPage = await browser.submit(page, '/method', {}, { name: 'method', value: 'email' });
      expect([heading(passwordPage), title(passwordPage)]).toEqual([expected.password, `${expected.password} – Ügyfélkapu+`]);
      const codePage = await browser.submit(passwordPage, '/password', { username, password: 'correct horse battery' });
      expect([heading(codePage), title(codePage)]).toEqual([expected.code, `${expected.code} – Ügyfélkapu+`]);
    }
  });

  test("a mail sent during a sign-in is in the language of its pages; one sent outside it, in the account's own (its last sign-in's)", async () => {
    accounts += 1;
    const username = `nyelv.${accounts}`;
    await kapu.account(username, ['email']);
    const to = `${username}@example.hu`;

    // A sign-in finished in English: English becomes the account's own language.
    let since = mail.received.length;
    const english = new Browser(kapu.url, { 'accept-language': 'en' });
    const codePage = await signInWithPassword(english, (await beginSignIn(rp)).url, 'email', username);
    const firstMail = await nextCodeMail(mail, since, to);
    expect(firstMail.mail.subject).toBe('Ügyfélkapu+ sign-in code');
    await english.submit(codePage, '/verify', { code: firstMail.code });
    expect(english.exitUrl?.searchParams.get('code')).toBeTruthy();

    // Later, on a computer set to Hungarian: the page is Hungarian, and so is the mail it asks for.
    since = mail.received.length;
    const hungarian = new Browser(kapu.url, { 'accept-language': 'hu' });
    const page = await signInWithPassword(hungarian, (await beginSignIn(rp)).url, 'email', username);
    expect(page.doc.querySelector('html')?.getAttribute('lang')).toBe('hu');
    expect((await nextCodeMail(mail, since, to)).mail.subject).toBe('Ügyfélkapu+ hitelesítő kód');

    // Failures piling up on the account reach it outside any sign-in of the citizen's own: in English.
    since = mail.received.length;
    for (let i = 0; i < 5; i += 1) await signInWithPassword(hungarian, (await beginSignIn(rp)).url, 'email', username, `nem ez ${i}`);
    expect((await mail.next((m) => m.to.includes(to), since)).subject).toBe('Ügyfélkapu+ – failed sign-in attempts');
  });
});

describe('the locale files', () => {
  // kapu's own words and each factor's (its folder's locales/), as the pages get them.
  const words = new Views(undefined, FACTORS);
  const hu = words.messages('hu');
  const en = words.messages('en');

  test('Hungarian and English have exactly the same keys, none empty', () => {
    expect(Object.keys(en).filter((k) => !(k in hu))).toEqual([]);
    expect(Object.keys(hu).filter((k) => !(k in en))).toEqual([]);
    expect(Object.entries({ ...hu, ...en }).filter(([, v]) => !v.trim())).toEqual([]);
  });

  test('a key with placeholders has the same placeholders in both languages', () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(Object.keys(hu).filter((k) => JSON.stringify(names(hu[k]!)) !== JSON.stringify(names(en[k] ?? '')))).toEqual([]);
  });

  test('every key the views and the code name literally exists in both languages', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const path = join(dir, f);
        return statSync(path).isDirectory() ? files(path) : /\.(eta|ts)$/.test(f) ? [path] : [];
      });
    const root = join(import.meta.dirname, '../..');
    const used = new Set<string>();
    for (const file of [...files(join(root, 'views')), ...files(join(root, 'src'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\b(?:t|translate)\((?:[a-z]+, )?'([a-z_]+(?:\.[a-z_]+)+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/(?:titleKey|messageKey|introKey|reasonKey|labelKey|key): '([a-z_]+(?:\.[a-z_]+)+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(100);
    // A mail notice names its key prefix: `<key>.subject` and `<key>.body` are its messages.
    const exists = (k: string) => (k in hu && k in en) || (`${k}.subject` in hu && `${k}.subject` in en && `${k}.body` in hu && `${k}.body` in en);
    expect([...used].filter((k) => !exists(k))).toEqual([]);
  });
});

describe('the cut-off of password-only sign-in, said as the rule works', () => {
  let kapu: TestKapu;
  let rp: Rp;
  // The first refused day: the day after tomorrow in Hungary, so the last allowed day is tomorrow.
  const inHungary = (d: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Budapest' }).format(d);
  const cutoffDay = inHungary(new Date(Date.now() + 2 * 86_400_000));
  const legacyButton = (page: Page) => page.doc.querySelectorAll('button').find((b) => b.getAttribute('value') === 'legacy');

  beforeAll(async () => {
    kapu = await startTestKapu({ env: { LEGACY_LOGIN_UNTIL: cutoffDay } });
    ({ rp } = await kapu.client());
  });
  afterAll(() => kapu?.close());

  const chooserIn = async (lang: string) => {
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    return browser.go((await beginSignIn(rp)).url);
  };

  test('the hint names the last allowed day in each language; it works until 23:59 that day (Hungarian time) and not from 00:00', async () => {
    const lastDay = new Date(Date.now() + 86_400_000);
    const hu = await chooserIn('hu');
    const en = await chooserIn('en');
    expect(hu.text(`#${legacyButton(hu)!.getAttribute('aria-describedby')}`)).toBe(
      `Csak felhasználónévvel és jelszóval, ${new Intl.DateTimeFormat('hu-HU', { dateStyle: 'long', timeZone: 'Europe/Budapest' }).format(lastDay)} végéig.`,
    );
    expect(en.text(`#${legacyButton(en)!.getAttribute('aria-describedby')}`)).toBe(
      `Username and password only, until the end of ${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'Europe/Budapest' }).format(lastDay)}.`,
    );
    expect(hu.text('.hint')).toMatch(/^Csak felhasználónévvel és jelszóval, \d{4}\. [a-zúőéá]+ \d{1,2}\. végéig\.$/);

    // 00:00 in Hungary on the cut-off day, whatever the season.
    const midnight = hungarianMidnight(cutoffDay);
    kapu.clock.advance((midnight.getTime() - kapu.clock.now().getTime()) / 1000 - 60);
    expect(legacyButton(await chooserIn('hu'))).toBeDefined();
    kapu.clock.advance(61);
    expect(legacyButton(await chooserIn('hu'))).toBeUndefined();
  });

  test('from the cut-off on, the chooser says under its buttons since when and why "Ügyfélkapuval" is gone, and which button sets Ügyfélkapu+ up', async () => {
    kapu.clock.advance(Math.max(0, (hungarianMidnight(cutoffDay).getTime() - kapu.clock.now().getTime()) / 1000 + 1));
    const day = (locale: string) => new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'Europe/Budapest' }).format(hungarianMidnight(cutoffDay));
    const says = {
      hu: [
        `Az Ügyfélkapuval (csak jelszóval) történő bejelentkezés ${day('hu-HU')} óta nem érhető el. Ha eddig így lépett be, válassza az „Ügyfélkapu+ e-mailes kóddal” gombot: a felhasználóneve és a jelszava megadása után itt beállíthatja az Ügyfélkapu+ azonosítást, és folytathatja a bejelentkezést.`,
        'Ha még nincs Ügyfélkapu+ azonosítása, ezt válassza: a jelszava után itt beállíthatja.',
      ],
      en: [
        `Signing in with Ügyfélkapu (password only) has not been possible since ${day('en-GB')}. If that is how you signed in, choose “Ügyfélkapu+ with an emailed code”: after your username and password you can set up Ügyfélkapu+ right here and go on signing in.`,
        'No Ügyfélkapu+ yet? Choose this one: you can set it up here after your password.',
      ],
    };
    for (const lang of ['hu', 'en'] as const) {
      const chooser = await chooserIn(lang);
      expect(legacyButton(chooser)).toBeUndefined();
      const setUp = chooser.doc.querySelectorAll('button').find((b) => b.getAttribute('value') === 'email')!;
      // After the last button, and the button it names says the same where a screen reader lands.
      expect(chooser.doc.querySelector('form + #legacy-ended')).not.toBeNull();
      expect([chooser.text('#legacy-ended'), chooser.text(`#${setUp.getAttribute('aria-describedby')}`)]).toEqual(says[lang]);
    }
  });
});
