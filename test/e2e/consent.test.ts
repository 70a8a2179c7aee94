import { Browser } from '../helpers/browser.ts';
import { png } from '../helpers/images.ts';
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

  test("the consent page, like every sign-in page, shows the service's logo (from kapu) and links its home page", async () => {
    const { rp } = await kapu.client({ clientId: 'kerdezo-logoval', clientName: 'Kérdező Hivatal', consentRequired: true, logo: png(64, 64), clientUri: 'https://kerdezo.example.hu/' });
    const browser = new Browser(kapu.url);
    const page = await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', 'hozzajarulo.hanna');
    expect(page.hasForm('/consent')).toBe(true);
    const img = page.doc.querySelector('main .rp img');
    expect([img?.getAttribute('src'), img?.getAttribute('alt')]).toEqual([expect.stringMatching(/^\/clients\/kerdezo-logoval\/logo\?v=[0-9a-f]{16}$/), '']);
    const link = page.doc.querySelector('main .rp a');
    expect([link?.getAttribute('href'), link?.getAttribute('rel')]).toEqual(['https://kerdezo.example.hu/', 'noopener noreferrer']);
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
