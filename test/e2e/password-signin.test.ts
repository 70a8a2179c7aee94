import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

const LOW = 'http://eidas.europa.eu/LoA/low';

describe('password-only sign-in (Ügyfélkapuval) at a relying party', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('an RP completes authorization code + PKCE and gets a verified ID token with acr low and amr pwd', async () => {
    const { rp } = await kapu.client();
    await kapu.account('kovacs.anna');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    await signInWithPassword(browser, signIn.url, 'legacy', 'kovacs.anna');
    expect(browser.exitUrl?.origin).toBe('https://rp.example.hu');

    const tokens = await signIn.finish(browser.exitUrl!);
    const claims = tokens.claims()!;
    expect(claims.acr).toBe(LOW);
    expect(claims.amr).toEqual(['pwd']);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ preferred_username: 'kovacs.anna', name: 'Teszt kovacs.anna', email: 'kovacs.anna@example.hu' });
  });
});
