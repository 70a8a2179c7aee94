import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

describe('consent', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
    await kapu.account('hozzajarulo.hanna');
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('a registered government RP is first-party: no consent screen', async () => {
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    await signInWithPassword(browser, signIn.url, 'legacy', 'hozzajarulo.hanna');
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
  });

  test('an RP registered to ask shows what it asks for; allowing gives the RP its tokens', async () => {
    const { rp } = await kapu.client({ clientName: 'Kérdező Szolgáltató', consentRequired: true });
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, 'legacy', 'hozzajarulo.hanna');
    expect(browser.exitUrl).toBeUndefined();
    expect(page.visibleText).toContain('A(z) Kérdező Szolgáltató szolgáltatás a következő adataihoz kér hozzáférést');
    expect(page.visibleText).toContain('e-mail-cím');
    await browser.submit(page, '/consent');
    const tokens = await signIn.finish(browser.exitUrl!);
    expect(tokens.claims()!.acr).toBe('http://eidas.europa.eu/LoA/low');
  });

  test('declining sends the RP access_denied and no code', async () => {
    const { rp } = await kapu.client({ consentRequired: true });
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, 'legacy', 'hozzajarulo.hanna');
    await browser.submit(page, '/abort');
    expect(browser.exitUrl?.searchParams.get('error')).toBe('access_denied');
    expect(browser.exitUrl?.searchParams.get('code')).toBeNull();
  });
});
