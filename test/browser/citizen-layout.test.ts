/**
 * The sign-in pages on the narrowest phone (320 px), in Hungarian and English, measured in a
 * real browser: no sideways scroll, nothing off screen, full-width buttons all on one edge and
 * width, link buttons aligned with the text, no word of a heading split across lines; the
 * footer's help, privacy and contact links and operator name; the resend countdown.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';
import { png } from '../helpers/images.ts';
import { axeContext, describeWithChromium, launchChromium, redirectedTo, screenshot, seriousViolations } from '../helpers/chromium.ts';

const RP_ORIGIN = 'https://rp.example.hu';
const SITE = { OPERATOR_NAME: 'Minta Hivatal', HELP_URL: 'https://help.example.hu/', PRIVACY_URL: 'https://example.hu/adatvedelem', CONTACT_URL: 'mailto:ugyfel@example.hu' };

const WORDS = {
  hu: {
    email: 'Ügyfélkapu+ e-mailes kóddal',
    legacy: 'Ügyfélkapuval',
    username: 'Felhasználónév',
    password: 'Jelszó',
    signIn: 'Bejelentkezés',
    code: 'E-mailben kapott kód',
    resend: 'Új kód küldése',
    cancel: 'Mégsem, visszatérek a szolgáltatóhoz',
    wait: (s: number) => `Új kódot ${s} másodperc múlva kérhet.`,
    ready: 'Most már kérhet új kódot.',
    footer: ['Súgó', 'Adatkezelési tájékoztató', 'Kapcsolat'],
    operator: 'Központi azonosítás – Minta Hivatal',
  },
  en: {
    email: 'Ügyfélkapu+ with an emailed code',
    legacy: 'Ügyfélkapu (password only)',
    username: 'Username',
    password: 'Password',
    signIn: 'Sign in',
    code: 'Code from the email',
    resend: 'Send a new code',
    cancel: 'Cancel and return to the service',
    wait: (s: number) => `You can ask for a new code in ${s} seconds.`,
    ready: 'You can ask for a new code now.',
    footer: ['Help', 'Privacy notice', 'Contact'],
    operator: 'Central sign-in – Minta Hivatal',
  },
} as const;

interface Box {
  left: number;
  right: number;
}
interface Layout {
  overflow: number;
  contentLeft: number;
  contentRight: number;
  full: Array<Box & { text: string }>;
  links: Array<Box & { text: string; align: string }>;
  brokenWords: string[];
  offscreen: string[];
}

/** Element boxes of the page as laid out (a string: the test code has no DOM types). */
const MEASURE = `(() => {
  const box = (e) => { const b = e.getBoundingClientRect(); return { left: Math.round(b.left), right: Math.round(b.right), text: e.textContent.trim() }; };
  const shown = (e) => e.getClientRects().length > 0;
  const main = document.querySelector('main');
  const style = getComputedStyle(main);
  const m = main.getBoundingClientRect();
  const full = [...main.querySelectorAll('button:not(.link), a.button')].filter(shown).map(box);
  const links = [...main.querySelectorAll('button.link')].filter(shown).map((e) => ({ ...box(e), align: getComputedStyle(e).textAlign }));
  const brokenWords = [];
  const walker = document.createTreeWalker(document.querySelector('h1'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      if (new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1) brokenWords.push(word[0]);
    }
  }
  const width = document.documentElement.clientWidth;
  const offscreen = [...document.querySelectorAll('header *, main *, footer *')].filter((e) => {
    const b = e.getBoundingClientRect();
    return b.width > 0 && (b.right > width + 0.5 || b.left < -0.5);
  }).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
  return {
    overflow: document.documentElement.scrollWidth - width,
    contentLeft: Math.round(m.left + parseFloat(style.paddingLeft)),
    contentRight: Math.round(m.right - parseFloat(style.paddingRight)),
    full, links, brokenWords, offscreen,
  };
})()`;

describeWithChromium('the sign-in pages at 320 px', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let browser: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let context: BrowserContext | undefined;
  let accounts = 0;

  beforeAll(async () => {
    mail = await new MailSink().start();
    [kapu, browser] = await Promise.all([startTestKapu({ env: { SMTP_URL: mail.url, LEGACY_LOGIN_UNTIL: '2099-01-01', ...SITE } }), launchChromium()]);
    ({ rp } = await kapu.client({ clientName: 'Minta Ügyintézés' }));
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

  /** A 320 px phone; `axe`: its pages can run axe (CSP bypassed, so not for the countdown). */
  async function phone(lang: 'hu' | 'en', axe = false): Promise<Page> {
    const options = { viewport: { width: 320, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: lang === 'hu' ? 'hu-HU' : 'en-GB' };
    context = axe ? await axeContext(browser, options) : await browser.newContext(options);
    await context.route(`${RP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' }));
    return context.newPage();
  }

  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

  /** The layout rules every page must keep at this width. */
  async function expectHolds(page: Page, name: string): Promise<Layout> {
    // Measured once the page has loaded: a page whose form was just answered has its alert as
    // soon as it is parsed, but its stylesheet may still be on the way (a busy machine measured
    // buttons laid out without it).
    await page.waitForLoadState();
    await screenshot(page, `320-${name}`);
    const layout = (await page.evaluate(MEASURE)) as Layout;
    expect({ page: name, overflow: layout.overflow, offscreen: layout.offscreen, brokenWords: layout.brokenWords }).toEqual({ page: name, overflow: 0, offscreen: [], brokenWords: [] });
    // Full-width buttons share both edges with the text column; link buttons start where the text starts.
    expect(layout.full.filter((b) => b.left !== layout.contentLeft || b.right !== layout.contentRight)).toEqual([]);
    expect(layout.links.filter((l) => l.left !== layout.contentLeft || !['left', 'start'].includes(l.align))).toEqual([]);
    expect({ page: name, violations: await seriousViolations(page) }).toEqual({ page: name, violations: [] });
    return layout;
  }

  async function toCodePage(page: Page, lang: 'hu' | 'en') {
    accounts += 1;
    const citizen = await kapu.account(`keskeny.${lang}.${accounts}`, ['email', 'totp']);
    await page.goto((await beginSignIn(rp)).url.href);
    await button(page, WORDS[lang].email).click();
    await page.getByLabel(WORDS[lang].username, { exact: true }).fill(citizen.username);
    await page.getByLabel(WORDS[lang].password, { exact: true }).fill(PASSWORD);
    const since = mail.received.length;
    await button(page, WORDS[lang].signIn).click();
    await page.getByLabel(WORDS[lang].code, { exact: true }).waitFor();
    // The field is there as soon as it is parsed; kapu's deferred script (the countdown) has run
    // only once the document says it is loaded.
    await page.waitForLoadState('domcontentloaded');
    return { citizen, code: readCodeMail(await mail.next((m) => m.to.includes(citizen.email), since)).code };
  }

  test.each(['hu', 'en'] as const)('(%s) chooser, password with an error, code page, dead code, ended sign-in: the layout holds', async (lang) => {
    const words = WORDS[lang];
    const page = await phone(lang, true);
    await page.goto((await beginSignIn(rp)).url.href);
    const chooser = await expectHolds(page, `${lang}-chooser`);
    expect(chooser.full.map((b) => b.text)).toContain(words.legacy);

    // The footer: the operator and the configured help, privacy and contact pages.
    const footer = page.locator('footer');
    expect(await footer.getByRole('link').allInnerTexts()).toEqual([...words.footer]);
    expect(await footer.getByRole('link').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual([SITE.HELP_URL, SITE.PRIVACY_URL, SITE.CONTACT_URL]);
    expect(await footer.locator('p').innerText()).toBe(words.operator);

    await button(page, words.legacy).click();
    await page.getByLabel(words.username, { exact: true }).fill('nincs.ilyen');
    await page.getByLabel(words.password, { exact: true }).fill('rossz jelszó');
    await button(page, words.signIn).click();
    await page.locator('[role=alert]').waitFor();
    await expectHolds(page, `${lang}-password-refused`);

    const { code } = await toCodePage(page, lang);
    const codePage = await expectHolds(page, `${lang}-code`);
    expect(codePage.full.map((b) => b.text)).toEqual([words.signIn, words.resend]);
    expect(codePage.links.map((b) => b.text)).toContain(words.cancel);

    const wrong = code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
    for (let i = 0; i < 5; i += 1) {
      await page.getByLabel(words.code, { exact: true }).fill(wrong);
      await button(page, words.signIn).click();
      await page.locator('[role=alert]').waitFor();
    }
    const dead = await expectHolds(page, `${lang}-dead-code`);
    expect(dead.full.map((b) => b.text)).toEqual([lang === 'hu' ? 'Ügyfélkapu+ hitelesítő alkalmazással' : 'Ügyfélkapu+ with an authenticator app', words.cancel]);

    const deadUrl = page.url();
    await redirectedTo(page, RP_ORIGIN, () => button(page, words.cancel).click());
    await page.goto(deadUrl);
    const ended = await expectHolds(page, `${lang}-ended`);
    expect(ended.full.map((b) => b.text)).toEqual([lang === 'hu' ? 'Vissza ide: Minta Ügyintézés' : 'Back to Minta Ügyintézés']);
  });

  test.each(['hu', 'en'] as const)("(%s) a service's huge logo and long name stay in their box; the page still holds", async (lang) => {
    const name = 'Nemzeti Adó- és Vámhivatal Elektronikus Ügyintézési Rendszer (Magánszemélyek és Egyéni Vállalkozók Számára)';
    const { rp: branded } = await kapu.client({ clientId: `nagy-logo-${lang}`, clientName: name, logo: png(2000, 2000), clientUri: `${RP_ORIGIN}/` });
    const page = await phone(lang, true);
    await page.goto((await beginSignIn(branded)).url.href);
    const layout = await expectHolds(page, `${lang}-big-logo`);
    // Decorative (alt=""): the name follows it as text, so screen readers skip the image.
    const logo = page.locator('img.rp-logo');
    expect(await logo.getAttribute('alt')).toBe('');
    await expect(page.getByText(name).first().isVisible()).resolves.toBe(true);
    // Drawn (kapu served it, the page's CSP let it in), and held to a box of at most 4rem (64 px) tall.
    expect(await logo.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(2000);
    const box = (await logo.boundingBox())!;
    expect(box.height).toBeLessThanOrEqual(64);
    expect(box.x + box.width).toBeLessThanOrEqual(layout.contentRight);
    expect(await page.getByRole('link', { name: new RegExp(lang === 'hu' ? 'honlapja' : '^Website of') }).getAttribute('href')).toBe(`${RP_ORIGIN}/`);
  });

  test.each(['hu', 'en'] as const)('(%s) the resend button counts its wait down and opens when it is over', async (lang) => {
    const words = WORDS[lang];
    const page = await phone(lang);
    // The page's clock stands still unless the test moves it: a slow machine cannot tick it on.
    await page.clock.install();
    await page.clock.pauseAt(new Date(Date.now() + 1000));
    await toCodePage(page, lang);
    const resend = button(page, words.resend);
    const wait = page.locator('#resend-wait');
    // The seconds left when the page was made (60, or a little less on a slow machine).
    const left = Number(await page.locator('form[data-countdown]').getAttribute('data-countdown'));
    expect(left).toBeGreaterThan(50);
    expect(await resend.isDisabled()).toBe(true);
    expect(await wait.innerText()).toBe(words.wait(left));

    await page.clock.runFor(1000);
    expect(await wait.innerText()).toBe(words.wait(left - 1));
    await page.clock.runFor((left - 2) * 1000);
    expect(await wait.innerText()).toBe(words.wait(1));
    expect(await resend.isDisabled()).toBe(true);
    await page.clock.runFor(1000);
    expect(await wait.innerText()).toBe(words.ready);
    expect(await resend.isEnabled()).toBe(true);
  });
});
