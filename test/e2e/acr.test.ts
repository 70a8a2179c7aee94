import { addFactor } from '../../src/admin/accounts.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { appCode, buttonTexts, fieldLabelled, toMiddleOfStep } from '../helpers/totp.ts';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const LEGACY = 'Ügyfélkapuval';
const UPGRADE_TITLE = 'Ügyfélkapu+ szükséges';

/** Opens `url`; `callback` is the RP's callback kapu sent the browser to on the way, if it did. */
async function visit(browser: Browser, url: URL): Promise<{ page: Page; callback: URL | undefined }> {
  browser.exitUrl = undefined;
  const page = await browser.go(url);
  return { page, callback: browser.exitUrl };
}

/**
 * From the chooser on: posts `method` as its button would (whether or not the page shows that
 * button, as a hand-made form could), then the password.
 */
async function continueWith(browser: Browser, chooser: Page, method: string, username: string): Promise<Page> {
  const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: method });
  return browser.submit(passwordPage, '/password', { username, password: PASSWORD });
}

describe('an RP that demands a level gets at least that level', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('asked for substantial, the chooser hides "Ügyfélkapuval"; a password-only account is told why, and going back gives the RP unmet_authentication_requirements', async () => {
    const { rp } = await kapu.client();
    await kapu.account('csak.jelszo');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp, { acr_values: SUBSTANTIAL });
    const chooser = await browser.go(signIn.url);
    expect(buttonTexts(chooser, '/method')).not.toContain(LEGACY);
    expect(buttonTexts(chooser, '/method')).toEqual(expect.arrayContaining(['Ügyfélkapu+ hitelesítő alkalmazással', 'Ügyfélkapu+ e-mailes kóddal']));
    // The same RP asking for nothing in particular is offered it.
    const plain = await new Browser(kapu.url).go((await beginSignIn(rp)).url);
    expect(buttonTexts(plain, '/method')).toContain(LEGACY);

    const upgrade = await continueWith(browser, chooser, 'totp', 'csak.jelszo');
    expect(browser.exitUrl).toBeUndefined();
    expect(upgrade.status).toBe(200);
    expect(upgrade.text('h1')).toBe(UPGRADE_TITLE);
    expect(upgrade.visibleText).toContain('Ez a szolgáltatás kétlépcsős azonosítást (Ügyfélkapu+) kér');
    expect(upgrade.visibleText).toContain('Ügyfélkapu+ igénylés e-mailes kóddal');

    await browser.submit(upgrade, '/abort');
    const callback = browser.exitUrl!;
    expect(callback.origin + callback.pathname).toBe('https://rp.example.hu/callback');
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(callback.searchParams.get('code')).toBeNull();
    await expect(signIn.finish(callback)).rejects.toMatchObject({ error: 'unmet_authentication_requirements' });
  });

  test('a client registered with minimum substantial never gets low, even when "Ügyfélkapuval" is posted anyway', async () => {
    const { rp } = await kapu.client({ minAcr: SUBSTANTIAL });
    const { totpSecret } = await kapu.account('alkalmazas.gabor', ['totp']);
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    expect(buttonTexts(chooser, '/method')).not.toContain(LEGACY);

    // The button is not there; a hand-made form posts it all the same.
    const codePage = await continueWith(browser, chooser, 'legacy', 'alkalmazas.gabor');
    expect(browser.exitUrl).toBeUndefined();
    expect(fieldLabelled(codePage, 'Azonosító')).toBeDefined();

    toMiddleOfStep(kapu.clock);
    await browser.submit(codePage, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('a browser signed in at low is asked to sign in again by an RP that demands substantial, and then gets substantial', async () => {
    const { rp: everyday } = await kapu.client();
    const { rp: demanding } = await kapu.client();
    await kapu.account('sso.hanna');
    const browser = new Browser(kapu.url);

    const low = await beginSignIn(everyday);
    await signInWithPassword(browser, low.url, 'legacy', 'sso.hanna');
    expect((await low.finish(browser.exitUrl!)).claims()!.acr).toBe(LOW);
    // Meanwhile the citizen sets the app up (as in the portal); the live session stays at low.
    const added = await addFactor(kapu.deps, 'sso.hanna', 'totp');
    const totpSecret = new URL(added.secretForDisplay!).searchParams.get('secret');

    // The session is live: the same RP is let straight back in, without a page.
    const again = await visit(browser, (await beginSignIn(everyday)).url);
    expect(again.callback?.searchParams.get('code')).toBeTruthy();

    const high = await beginSignIn(demanding, { acr_values: SUBSTANTIAL });
    const { page: chooser, callback } = await visit(browser, high.url);
    expect(callback).toBeUndefined();
    expect(buttonTexts(chooser, '/method')).not.toContain(LEGACY);

    const codePage = await continueWith(browser, chooser, 'totp', 'sso.hanna');
    toMiddleOfStep(kapu.clock);
    await browser.submit(codePage, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    const claims = (await high.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('a browser signed in at low is asked to sign in again by a client registered with minimum substantial', async () => {
    const { rp: everyday } = await kapu.client();
    const { rp: strict } = await kapu.client({ minAcr: SUBSTANTIAL });
    await kapu.account('sso.ibolya');
    const browser = new Browser(kapu.url);
    const low = await beginSignIn(everyday);
    await signInWithPassword(browser, low.url, 'legacy', 'sso.ibolya');
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();

    const { page: chooser, callback } = await visit(browser, (await beginSignIn(strict)).url);
    expect(callback).toBeUndefined();
    expect(chooser.hasForm('/method')).toBe(true);
    expect(buttonTexts(chooser, '/method')).not.toContain(LEGACY);
  });
});

describe('after the legacy cut-off (LEGACY_LOGIN_UNTIL=2025-01-16)', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { LEGACY_LOGIN_UNTIL: '2025-01-16' } });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('the chooser no longer offers "Ügyfélkapuval", and a password-only account that posts it anyway ends on the upgrade page, never at low', async () => {
    const { rp } = await kapu.client();
    await kapu.account('regi.ilona');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    expect(buttonTexts(chooser, '/method')).not.toContain(LEGACY);

    const upgrade = await continueWith(browser, chooser, 'legacy', 'regi.ilona');
    expect(browser.exitUrl).toBeUndefined();
    expect(upgrade.text('h1')).toBe(UPGRADE_TITLE);
    expect(upgrade.visibleText).toContain('A csak jelszavas bejelentkezés megszűnt.');

    await browser.submit(upgrade, '/abort');
    expect(browser.exitUrl?.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(browser.exitUrl?.searchParams.get('code')).toBeNull();
  });
});

describe('before the legacy cut-off (LEGACY_LOGIN_UNTIL=2099-01-01)', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { LEGACY_LOGIN_UNTIL: '2099-01-01' } });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('"Ügyfélkapuval" is offered with a hint naming the cut-off date, and a password-only account signs in at low', async () => {
    const { rp } = await kapu.client();
    await kapu.account('regi.janos');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    expect(buttonTexts(chooser, '/method')).toContain(LEGACY);
    const legacyButton = chooser.doc.querySelectorAll('button').find((b) => b.text.trim() === LEGACY)!;
    // 2099-01-01 is the first day refused: the page names the day before as the last one.
    expect(chooser.text(`#${legacyButton.getAttribute('aria-describedby')}`)).toBe('Csak felhasználónévvel és jelszóval, 2098. december 31. végéig.');

    await continueWith(browser, chooser, 'legacy', 'regi.janos');
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(LOW);
    expect(claims.amr).toEqual(['pwd']);
  });
});
