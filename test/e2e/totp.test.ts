import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { TOTP_PERIOD, appCode, fieldLabelled, toMiddleOfStep, wrongAppCode } from '../helpers/totp.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
/** What the page says to a wrong or already used app code. */
const REFUSED = 'Az azonosító nem megfelelő, vagy már felhasználta.';

describe('Ügyfélkapu+ with the authenticator app (TOTP)', () => {
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** A fresh browser at an RP, through the chooser ("app") and the password: the code page. */
  async function toCodePage(username: string) {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, 'totp', username);
    return { browser, signIn, page };
  }

  function enterCode(browser: Browser, page: Page, code: string): Promise<Page> {
    return browser.submit(page, '/verify', { code });
  }

  test('after the password the page asks for the "Azonosító"; the right code signs in at substantial with amr pwd otp mfa', async () => {
    const { totpSecret } = await kapu.account('app.anna', ['totp']);
    toMiddleOfStep(kapu.clock);
    const { browser, signIn, page } = await toCodePage('app.anna');
    expect(page.status).toBe(200);
    expect(page.text('h1')).toBe('Bejelentkezés – hitelesítő alkalmazás');
    expect(fieldLabelled(page, 'Azonosító')?.getAttribute('name')).toBe('code');

    await enterCode(browser, page, await appCode(totpSecret!, kapu.clock));
    expect(browser.exitUrl?.origin).toBe('https://rp.example.hu');
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('a code that already signed someone in is refused in a second sign-in, even while it is still valid', async () => {
    const { totpSecret } = await kapu.account('app.bela', ['totp']);
    toMiddleOfStep(kapu.clock);
    const code = await appCode(totpSecret!, kapu.clock);
    const first = await toCodePage('app.bela');
    await enterCode(first.browser, first.page, code);
    expect(first.browser.exitUrl).toBeDefined();

    // Someone who saw the code over the citizen's shoulder tries it at once, on another browser.
    const second = await toCodePage('app.bela');
    const refused = await enterCode(second.browser, second.page, code);
    expect(second.browser.exitUrl).toBeUndefined();
    expect(refused.status).toBe(401);
    expect(refused.text('[role="alert"]')).toContain(REFUSED);
  });

  test('a code from the previous or the next 30-second step is accepted; one two steps away is refused', async () => {
    const { totpSecret } = await kapu.account('app.cecil', ['totp']);
    toMiddleOfStep(kapu.clock);

    const previous = await toCodePage('app.cecil');
    await enterCode(previous.browser, previous.page, await appCode(totpSecret!, kapu.clock, -1));
    expect(previous.browser.exitUrl).toBeDefined();

    // Three steps on, so the replay guard (which remembers the last accepted step) stays out of it.
    kapu.clock.advance(3 * TOTP_PERIOD);
    const next = await toCodePage('app.cecil');
    await enterCode(next.browser, next.page, await appCode(totpSecret!, kapu.clock, +1));
    expect(next.browser.exitUrl).toBeDefined();

    // A fresh account, so nothing but the time window can refuse these.
    const { totpSecret: fresh } = await kapu.account('app.dora', ['totp']);
    const far = await toCodePage('app.dora');
    for (const steps of [-2, +2]) {
      const refused = await enterCode(far.browser, far.page, await appCode(fresh!, kapu.clock, steps));
      expect(far.browser.exitUrl).toBeUndefined();
      expect(refused.status).toBe(401);
      expect(refused.text('[role="alert"]')).toContain(REFUSED);
    }
    await enterCode(far.browser, far.page, await appCode(fresh!, kapu.clock));
    expect(far.browser.exitUrl).toBeDefined();
  });

  test('a wrong code is refused with a clear message and the Azonosító field stays for another try', async () => {
    const { totpSecret } = await kapu.account('app.elek', ['totp']);
    toMiddleOfStep(kapu.clock);
    const { browser, signIn, page } = await toCodePage('app.elek');

    const refused = await enterCode(browser, page, await wrongAppCode(totpSecret!, kapu.clock));
    expect(browser.exitUrl).toBeUndefined();
    expect(refused.status).toBe(401);
    expect(refused.text('[role="alert"]')).toContain(REFUSED);
    expect(fieldLabelled(refused, 'Azonosító')?.getAttribute('name')).toBe('code');

    const tooShort = await enterCode(browser, refused, '12345');
    expect(tooShort.status).toBeGreaterThanOrEqual(400);
    expect(tooShort.status).toBeLessThan(500);
    expect(tooShort.text('[role="alert"]')).toBe('A kód hat számjegyből áll.');
    expect(fieldLabelled(tooShort, 'Azonosító')).toBeDefined();

    await enterCode(browser, tooShort, await appCode(totpSecret!, kapu.clock));
    expect((await signIn.finish(browser.exitUrl!)).claims()!.acr).toBe(SUBSTANTIAL);
  });
});
