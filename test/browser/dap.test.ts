/**
 * The DÁP method in a real browser (Debian's Chromium), with two contexts: a desktop that signs
 * in and a phone that runs kapu's reference app (/app/). The QR codes the desktop shows are
 * decoded back (jsqr) to the links they carry, and the phone opens those. Every page runs under
 * its real CSP (no bypass: axe is evaluated through the devtools protocol, which CSP does not
 * govern), and axe checks each new page.
 */
import axe from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { DESKTOP, MOBILE, type Violation, describeWithChromium, launchChromium, qrCodeOn, seriousViolations } from '../helpers/chromium.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const RP_ORIGIN = 'https://rp.example.hu';
const PIN = '135790';

describeWithChromium('the DÁP method with the reference app, in a real browser', () => {
  let kapu: TestKapu;
  let browser: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  const contexts: BrowserContext[] = [];
  const found: Array<{ page: string; violations: Violation[] }> = [];
  const cspErrors: string[] = [];

  beforeAll(async () => {
    [kapu, browser] = await Promise.all([startTestKapu(), launchChromium()]);
    ({ rp } = await kapu.client({ clientName: 'Minta Ügyintézés' }));
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await kapu?.close();
  });

  async function open(options: typeof DESKTOP): Promise<Page> {
    const context = await browser.newContext(options);
    contexts.push(context);
    await context.route(`${RP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' }));
    const page = await context.newPage();
    page.setDefaultTimeout(30_000); // a busy CI machine: a page may take seconds
    if (process.env['DAP_DEBUG']) {
      page.on('requestfailed', (r) => process.stderr.write(`FAILED ${r.url()} ${r.failure()?.errorText}\n`));
      page.on('framenavigated', (f) => process.stderr.write(`NAV ${f.url()}\n`));
    }
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    return page;
  }

  async function checkAxe(page: Page, name: string): Promise<void> {
    if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(axe.source);
    const violations = await seriousViolations(page);
    if (violations.length > 0) found.push({ page: name, violations });
  }

  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });

  test('a citizen enrolls a phone in the portal, then signs in at an RP by approving on the phone with number matching; no password typed at the RP', async () => {
    const citizen = await kapu.account('dap.bongeszo');
    const desktop = await open(DESKTOP);
    const phone = await open(MOBILE);

    // The portal: sign in, "Mobilalkalmazás beállítása", the password again.
    await desktop.goto(`${kapu.url}/account`);
    await button(desktop, 'Bejelentkezés').click();
    await button(desktop, 'Ügyfélkapuval').click();
    await field(desktop, 'Felhasználónév').fill(citizen.username);
    await field(desktop, 'Jelszó').fill(PASSWORD);
    await button(desktop, 'Bejelentkezés').click();
    await desktop.getByRole('link', { name: 'Mobilalkalmazás beállítása' }).click();
    await field(desktop, 'Jelszó (újra)').fill(PASSWORD);
    await button(desktop, 'Tovább').click();
    const enrollLink = await qrCodeOn(desktop, '#dap-qr');
    expect(enrollLink).toBe(await desktop.locator('#dap-link').getAttribute('href'));
    expect(enrollLink).toMatch(new RegExp(`^${kapu.url}/app/#enroll=`));
    await checkAxe(desktop, 'portal: setup page with the QR code');

    // The phone opens the link in the reference app: a key made there, a PIN chosen.
    await phone.goto(enrollLink);
    await field(phone, 'A telefon neve').fill('Teszt Android');
    await checkAxe(phone, 'app: enrollment');
    await field(phone, 'PIN-kód (6 számjegy)').fill(PIN);
    await field(phone, 'PIN-kód újra').fill(PIN);
    await button(phone, 'Beállítás').click();
    await phone.getByText('Kész: a telefon be van állítva').waitFor();
    await checkAxe(phone, 'app: enrolled');
    // The key is the phone's own: non-extractable, in IndexedDB.
    expect(
      await phone.evaluate(`new Promise((ok) => { const r = indexedDB.open('kapu-dap', 1); r.onsuccess = () => { const g = r.result.transaction('devices').objectStore('devices').get(location.origin); g.onsuccess = () => ok({ extractable: g.result.privateKey.extractable, type: g.result.privateKey.type }); }; })`),
    ).toEqual({ extractable: false, type: 'private' });
    // The service worker keeps the app's files: it opens offline, with its key store.
    await phone.evaluate('navigator.serviceWorker.ready.then(() => true)');
    await phone.context().setOffline(true);
    await phone.reload();
    await phone.getByText('Ez a telefon be van állítva: Teszt Android.').waitFor();
    await phone.context().setOffline(false);

    await button(desktop, 'Tovább').click();
    await desktop.getByText('Beállította a DÁP mobilalkalmazást').waitFor();
    await desktop.getByRole('link', { name: 'Telefonok kezelése' }).click();
    await desktop.getByText('Teszt Android').first().waitFor();
    await checkAxe(desktop, 'portal: phones');

    // An RP: "DÁP mobilalkalmazás" → a QR code and a number; no password field.
    const signIn = await beginSignIn(rp);
    await desktop.goto(signIn.url.href);
    await button(desktop, 'DÁP mobilalkalmazás').click();
    const challengeLink = await qrCodeOn(desktop, '#dap-qr');
    expect(challengeLink).toBe(await desktop.locator('#dap-link').getAttribute('href'));
    const number = (await desktop.locator('#dap-number').innerText()).trim();
    expect(await desktop.locator('input[type=password]').count()).toBe(0);
    // The number to match is large and unmistakable, as on the phone: well above the text around it.
    const sizes = (await desktop.evaluate(`[getComputedStyle(document.getElementById('dap-number')).fontSize, getComputedStyle(document.querySelector('main p')).fontSize].map(parseFloat)`)) as number[];
    expect(sizes[0]).toBeGreaterThanOrEqual(2.5 * sizes[1]!);
    await checkAxe(desktop, 'sign-in: waiting page');

    await phone.goto(challengeLink);
    await phone.getByText('Minta Ügyintézés').waitFor();
    // The browser is on this machine: a local network, said in words (not "127.0.0.x" or "::1::/48").
    expect(await phone.locator('#fact-place').innerText()).toBe('helyi hálózat');
    const shown = (await phone.locator('#numbers button').allInnerTexts()).map((n) => n.trim());
    expect(shown).toHaveLength(3);
    expect(shown).toContain(number);
    await checkAxe(phone, 'app: approval');
    await button(phone, number).click();
    await field(phone, 'PIN-kód').fill(PIN);
    await button(phone, 'Jóváhagyás').click();
    await phone.getByText('Jóváhagyta a bejelentkezést').waitFor();
    // Decided: nothing left to press, the refusal least of all.
    expect(await phone.getByRole('button').evaluateAll((all) => all.map((b) => b.textContent))).toEqual(['English']);
    await checkAxe(phone, 'app: approved');

    // The waiting page learns it by itself (kapu.js asks /status) and goes on to the RP.
    const callback = await desktop.waitForRequest((r) => r.url().startsWith(RP_ORIGIN), { timeout: 15_000 });
    const claims = (await signIn.finish(new URL(callback.url()))).claims()!;
    expect({ sub: claims.sub, acr: claims.acr, amr: claims.amr }).toEqual({ sub: citizen.id, acr: SUBSTANTIAL, amr: ['swk', 'pin', 'mfa'] });

    expect(cspErrors).toEqual([]);
    expect(found).toEqual([]);
    // Two browsers, axe on five pages, argon2 for every password and PIN, on a shared machine.
  }, 300_000);

  test('without JavaScript the waiting page works with "Tovább"; a refusal on the phone is said as such', async () => {
    const context = await browser.newContext({ ...DESKTOP, javaScriptEnabled: false });
    contexts.push(context);
    const desktop = await context.newPage();
    desktop.setDefaultTimeout(10_000);
    if (process.env['DAP_DEBUG']) desktop.on('framenavigated', (f) => process.stderr.write(`NAV2 ${f.url()}\n`));
    const signIn = await beginSignIn(rp);
    await desktop.goto(signIn.url.href);
    await button(desktop, 'DÁP mobilalkalmazás').click();
    await desktop.locator('#dap-number').waitFor();
    await button(desktop, 'Tovább').click();
    await desktop.getByText('még nem hagyta jóvá').waitFor();
    // The newest phone of the first test refuses it.
    const phone = contexts[1]!.pages()[0]!;
    await phone.goto(await desktop.locator('#dap-link').getAttribute('href') as string);
    await phone.locator('#numbers button').first().waitFor();
    await button(phone, 'Nem én voltam – elutasítás').click();
    await phone.getByText('Elutasította a bejelentkezést').waitFor();
    await button(desktop, 'Tovább').click();
    await desktop.getByText('elutasították').first().waitFor();
    // (axe needs JavaScript: the refused page is checked in the test above's context below.)
  }, 120_000);

  test('the refused waiting page passes axe too', async () => {
    const phone = contexts[1]!.pages()[0]!;
    const desktop = await open(DESKTOP);
    const signIn = await beginSignIn(rp);
    await desktop.goto(signIn.url.href);
    await button(desktop, 'DÁP mobilalkalmazás').click();
    await phone.goto((await desktop.locator('#dap-link').getAttribute('href')) as string);
    await phone.locator('#numbers button').first().waitFor();
    await button(phone, 'Nem én voltam – elutasítás').click();
    await desktop.getByText('A bejelentkezést a telefonon elutasították').first().waitFor({ timeout: 15_000 });
    await checkAxe(desktop, 'sign-in: refused');
    expect(found).toEqual([]);
  }, 120_000);

  test('a link that no longer works shows the phone why, and no empty labels: decided, then expired', async () => {
    const phone = contexts[1]!.pages()[0]!;
    const desktop = await open(DESKTOP);
    const signIn = await beginSignIn(rp);
    await desktop.goto(signIn.url.href);
    await button(desktop, 'DÁP mobilalkalmazás').click();
    const link = (await desktop.locator('#dap-link').getAttribute('href')) as string;
    await phone.goto(link);
    await button(phone, 'Nem én voltam – elutasítás').click();
    await phone.getByText('Elutasította a bejelentkezést').waitFor();
    const shows = async () => ({ said: await phone.getByRole('alert').innerText(), labels: await phone.locator('dt:visible').count(), buttons: await phone.getByRole('button').evaluateAll((all) => all.map((b) => b.textContent)) });

    // The same link again (from the phone's history): decided already.
    await phone.goto('about:blank');
    await phone.goto(link);
    await phone.getByRole('alert').waitFor();
    expect(await shows()).toEqual({ said: 'Erről a bejelentkezésről már döntöttek, vagy a QR-kódot lecserélték.', labels: 0, buttons: ['English'] });

    // A fresh QR code, opened after its two minutes.
    await button(desktop, 'Új kód küldése').click();
    const fresh = (await desktop.locator('#dap-link').getAttribute('href')) as string;
    kapu.clock.advance(121);
    await phone.goto(fresh);
    await phone.getByRole('alert').waitFor();
    expect(await shows()).toEqual({ said: 'A QR-kód lejárt. Kérjen újat a számítógépen.', labels: 0, buttons: ['English'] });
    await checkAxe(phone, 'app: expired link');
    expect(found).toEqual([]);
  }, 120_000);
});
