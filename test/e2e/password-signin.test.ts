import argon2 from 'argon2';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { PASSWORD, type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

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

describe('at the production cost of argon2id (the rest of the suite hashes cheaply)', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2', ARGON2_PARALLELISM: '1' } });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  const storedHash = async (username: string) =>
    (await kapu.deps.db.selectFrom('account').select('password_hash').where('username', '=', username).executeTakeFirstOrThrow()).password_hash;

  test('a password kept at OWASP cost signs in; one kept at a lower cost is rehashed at the first sign-in', async () => {
    const { rp } = await kapu.client();
    await kapu.account('kovacs.anna');
    expect(await storedHash('kovacs.anna')).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);

    const account = await kapu.account('nagy.bela');
    const cheap = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
    await kapu.deps.repos.accounts.updatePasswordHash(account.id, cheap, new Date());

    for (const username of ['kovacs.anna', 'nagy.bela']) {
      const browser = new Browser(kapu.url);
      const signIn = await beginSignIn(rp);
      await signInWithPassword(browser, signIn.url, 'legacy', username);
      const tokens = await signIn.finish(browser.exitUrl!);
      expect(tokens.claims()!.acr).toBe(LOW);
    }
    expect(await storedHash('nagy.bela')).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });
});
