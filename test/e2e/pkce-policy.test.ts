/**
 * Issue 15, item 9b: an RP on a stock OpenID Connect Core library sends no PKCE. The operator
 * may admit such a confidential RP deliberately (`client add|update --pkce optional`); it then
 * signs citizens in with the nonce binding the code to its sign-in. Every other RP is refused
 * without PKCE, and an RP that does send PKCE must prove it at the token endpoint.
 */
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, RP_REDIRECT, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

const RP_ORIGIN = new URL(RP_REDIRECT).origin;

describe('PKCE per RP', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** An authorization request as an OIDC Core library without PKCE builds it. */
  function withoutPkce(rp: oidc.Configuration, params: Record<string, string> = {}) {
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: RP_REDIRECT, scope: 'openid profile', state, nonce, ...params });
    return { url, state, nonce };
  }

  test('a confidential RP registered with --pkce optional signs a citizen in without PKCE; the ID token carries its nonce', async () => {
    const { rp } = await kapu.client({ clientId: 'omniauth-rp', pkce: 'optional' });
    const account = await kapu.account('nonce.nandor');
    const request = withoutPkce(rp);
    expect(request.url.searchParams.has('code_challenge')).toBe(false);

    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, request.url, 'legacy', account.username);
    expect(browser.exitUrl?.searchParams.get('error')).toBeNull();
    const tokens = await oidc.authorizationCodeGrant(rp, browser.exitUrl!, { expectedState: request.state, expectedNonce: request.nonce });
    expect(tokens.claims()).toMatchObject({ sub: account.id, nonce: request.nonce });
  });

  test('…but not without a nonce: the request goes back to the RP as invalid_request before any page', async () => {
    const { rp } = await kapu.client({ clientId: 'nonce-nelkul-rp', pkce: 'optional' });
    const browser = new Browser(kapu.url);
    const { url } = withoutPkce(rp);
    url.searchParams.delete('nonce');
    const page = await browser.go(url);
    expect(page.hasForm('/method')).toBe(false);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    expect(browser.exitUrl?.searchParams.get('error')).toBe('invalid_request');
    expect(browser.exitUrl?.searchParams.get('error_description')).toBe('a request without PKCE must ask for the openid scope and carry a nonce');
  });

  test('an RP with PKCE required (the default, or given) is refused without it, nonce or not', async () => {
    for (const input of [{}, { pkce: 'required' as const }]) {
      const { rp } = await kapu.client(input);
      const browser = new Browser(kapu.url);
      await browser.go(withoutPkce(rp).url);
      expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
      expect(browser.exitUrl?.searchParams.get('error')).toBe('invalid_request');
      expect(browser.exitUrl?.searchParams.get('code')).toBeNull();
    }
  });

  test("the developers' page says when PKCE may be left out", async () => {
    const page = await new Browser(kapu.url).go('/developers');
    expect(page.status).toBe(200);
    expect(page.visibleText).toContain('PKCE nélkül csak az a bizalmas (titokkal vagy kulccsal hitelesítő) szolgáltató küldhet kérést');
  });

  test('an RP allowed to omit PKCE that sends a code_challenge must still present its verifier (no downgrade)', async () => {
    const { rp } = await kapu.client({ clientId: 'vegyes-rp', pkce: 'optional' });
    const account = await kapu.account('vegyes.vera');
    const verifier = oidc.randomPKCECodeVerifier();
    const request = withoutPkce(rp, { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, request.url, 'legacy', account.username);
    await expect(oidc.authorizationCodeGrant(rp, browser.exitUrl!, { expectedState: request.state, expectedNonce: request.nonce })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});
