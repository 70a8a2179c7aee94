/**
 * The protocol surface an RP developer relies on (SPEC §6), seen through a standard RP library
 * (openid-client): discovery, signed ID tokens, PKCE, refresh token rotation, revocation,
 * introspection, PAR and RP-initiated logout; and replicas sharing one Postgres (SPEC §7).
 */
import { addFactor } from '../../src/admin/accounts.ts';
import { createPublicKey, verify } from 'node:crypto';
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, RP_REDIRECT, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { startReplicas } from '../helpers/replicas.ts';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const RP_ORIGIN = new URL(RP_REDIRECT).origin;
const POST_LOGOUT = 'https://rp.example.hu/bye';

interface Jwk {
  kty: string;
  kid: string;
  alg?: string;
  [member: string]: unknown;
}

/** Members of a JWK that belong to a private (or symmetric) key only. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function fetchJwks(url: string): Promise<Jwk[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: Jwk[] }).keys;
}

/** Every URL the page would load or navigate to, from src, href and action attributes. */
function referencedUrls(page: Page): string[] {
  return page.doc
    .querySelectorAll('*')
    .flatMap((el) => ['src', 'href', 'action'].map((a) => el.getAttribute(a)))
    .filter((v): v is string => typeof v === 'string');
}

describe('the OpenID Connect protocol surface, as a standard RP library sees it', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** A password-only sign-in at `rp`, all the way to the tokens. */
  async function signIn(rp: oidc.Configuration, username: string, params: Record<string, string> = {}) {
    const browser = new Browser(kapu.url);
    const request = await beginSignIn(rp, params);
    await signInWithPassword(browser, request.url, 'legacy', username);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    return { browser, tokens: await request.finish(browser.exitUrl!) };
  }

  test('discovery lists exactly what kapu supports: code flow with PKCE S256, eIDAS acr values and every endpoint', async () => {
    const { rp } = await kapu.client();
    const meta = rp.serverMetadata();
    expect(meta.issuer).toBe(kapu.url);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.acr_values_supported).toEqual(expect.arrayContaining([LOW, SUBSTANTIAL]));
    expect(meta.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'offline_access']));
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.dpop_signing_alg_values_supported?.length).toBeGreaterThan(0);
    expect({
      authorization: meta.authorization_endpoint,
      token: meta.token_endpoint,
      userinfo: meta.userinfo_endpoint,
      jwks: meta.jwks_uri,
      endSession: meta.end_session_endpoint,
      revocation: meta.revocation_endpoint,
      introspection: meta.introspection_endpoint,
      par: meta.pushed_authorization_request_endpoint,
    }).toEqual({
      authorization: `${kapu.url}/auth`,
      token: `${kapu.url}/token`,
      userinfo: `${kapu.url}/me`,
      jwks: `${kapu.url}/jwks`,
      endSession: `${kapu.url}/session/end`,
      revocation: `${kapu.url}/token/revocation`,
      introspection: `${kapu.url}/token/introspection`,
      par: `${kapu.url}/request`,
    });
  });

  test('the JWKS publishes an ES256 and an RS256 public key, and no private key material', async () => {
    const keys = await fetchJwks(`${kapu.url}/jwks`);
    expect(keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' }),
        expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig' }),
      ]),
    );
    for (const key of keys) {
      expect(PRIVATE_MEMBERS.filter((m) => m in key)).toEqual([]);
      expect(createPublicKey({ key: key as never, format: 'jwk' }).type).toBe('public');
    }
  });

  test('the ID token is signed by a key from /jwks: the RP library checks it, and so does plain node:crypto', async () => {
    const { rp } = await kapu.client();
    // openid-client checks ID token signatures only when asked to (non-repudiation checks).
    oidc.enableNonRepudiationChecks(rp);
    const account = await kapu.account('jwks.janos');
    const { tokens } = await signIn(rp, account.username);
    expect(tokens.claims()).toMatchObject({ iss: kapu.url, sub: account.id, acr: LOW });

    const [header, payload, signature] = tokens.id_token!.split('.') as [string, string, string];
    const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string };
    expect(alg).toBe('RS256');
    const jwk = (await fetchJwks(`${kapu.url}/jwks`)).find((k) => k.kid === kid);
    expect(jwk).toBeDefined();
    const key = createPublicKey({ key: jwk as never, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))).toBe(true);
    const forged = Buffer.from(JSON.stringify({ ...tokens.claims(), sub: 'someone-else' })).toString('base64url');
    expect(verify('sha256', Buffer.from(`${header}.${forged}`), key, Buffer.from(signature, 'base64url'))).toBe(false);
  });

  test('discovery says sid is supported, and every ID token carries one (Back-Channel Logout 1.0 §2.1), also after a refresh', async () => {
    // An RP without a back-channel logout URI: it may still keep the sid to match a later logout.
    const { rp } = await kapu.client();
    expect(rp.serverMetadata().backchannel_logout_session_supported).toBe(true);
    const account = await kapu.account('munkamenet.marton');
    const { tokens } = await signIn(rp, account.username, { scope: 'openid offline_access', prompt: 'consent' });
    const sid = tokens.claims()?.['sid'];
    expect(sid).toEqual(expect.any(String));
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.claims()?.['sid']).toBe(sid);
  });

  test('an authorization request without PKCE, or with the plain method, is refused back to the RP', async () => {
    const { rp } = await kapu.client();
    const attempts: Array<Record<string, string>> = [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }];
    for (const pkce of attempts) {
      const browser = new Browser(kapu.url);
      const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: RP_REDIRECT, scope: 'openid', state: oidc.randomState(), ...pkce });
      const page = await browser.go(url);
      expect(page.hasForm('/method')).toBe(false);
      expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
      expect(browser.exitUrl?.searchParams.get('error')).toBe('invalid_request');
      expect(browser.exitUrl?.searchParams.get('code')).toBeNull();
    }
  });

  test('an RP may push its authorization request first (PAR) and send the browser with the request_uri alone', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('par.piroska');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: RP_REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, url, 'legacy', account.username);
    const tokens = await oidc.authorizationCodeGrant(rp, browser.exitUrl!, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.sub).toBe(account.id);
  });

  test('a refresh token is rotated on use; the old one is refused, and its reuse revokes the newer one too', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('frissito.ferenc');
    // First-party: offline access is granted without a consent screen, even with prompt=consent.
    const { tokens } = await signIn(rp, account.username, { scope: 'openid offline_access', prompt: 'consent' });
    expect(tokens.scope?.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access']));
    const first = tokens.refresh_token;
    expect(first).toBeDefined();

    const refreshed = await oidc.refreshTokenGrant(rp, first!);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(first);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()?.sub).toBe(account.id);

    await expect(oidc.refreshTokenGrant(rp, first!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a refresh token redeemed several times at once yields new tokens at most once', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('parhuzamos.pal');
    const { tokens } = await signIn(rp, account.username, { scope: 'openid offline_access', prompt: 'consent' });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => oidc.refreshTokenGrant(rp, tokens.refresh_token!)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ error: 'invalid_grant' });
    // Redeeming one token several times is reuse: the whole grant is gone, winner's tokens too.
    for (const r of won) await expect(oidc.refreshTokenGrant(rp, r.value.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('introspection describes a live access token to the RP it was issued to', async () => {
    const { rp, clientId } = await kapu.client();
    const account = await kapu.account('introspekt.ilona');
    const { tokens } = await signIn(rp, account.username);
    const info = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(info).toMatchObject({ active: true, client_id: clientId, sub: account.id, token_type: 'Bearer' });
    expect(info.scope?.split(' ')).toContain('openid');
    expect(info.exp).toBeGreaterThan(Date.now() / 1000);
  });

  test("another RP can neither introspect nor revoke an RP's token", async () => {
    const { rp } = await kapu.client();
    const { rp: other } = await kapu.client();
    const account = await kapu.account('masik.marta');
    const { tokens } = await signIn(rp, account.username);
    expect(await oidc.tokenIntrospection(other, tokens.access_token)).toEqual({ active: false });
    await expect(oidc.tokenRevocation(other, tokens.access_token)).rejects.toMatchObject({ error: 'invalid_request' });
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({ active: true });
  });

  test('userinfo calls the address verified once the account has a factor whose codes reach it (the emailed code)', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('cimzett.cecil');
    const { tokens } = await signIn(rp, account.username, { scope: 'openid email' });
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, account.id)).toMatchObject({ email: account.email, email_verified: false });
    await addFactor(kapu.deps, account.username, 'email');
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, account.id)).toMatchObject({ email: account.email, email_verified: true });
  });

  test('a revoked access token is inactive to introspection and refused at userinfo', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('visszavont.viktor');
    const { tokens } = await signIn(rp, account.username);
    await oidc.tokenRevocation(rp, tokens.access_token);
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toEqual({ active: false });
    await expect(oidc.fetchUserInfo(rp, tokens.access_token, account.id)).rejects.toThrow();
  });

  test("RP-initiated logout: kapu's own Hungarian page asks, the citizen confirms, and the next sign-in starts from the method chooser", async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('kijelentkezo.karoly');
    const { browser, tokens } = await signIn(rp, account.username);

    // While signed in, a second request from the same RP needs no sign-in (SSO session).
    const again = await beginSignIn(rp);
    const silent = await browser.go(again.url);
    expect(silent.hasForm('/method')).toBe(false);
    expect((await again.finish(browser.exitUrl!)).claims()?.sub).toBe(account.id);

    const state = oidc.randomState();
    const logoutUrl = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT, state });
    const question = await browser.go(logoutUrl);
    expect(question.status).toBe(200);
    expect(question.doc.querySelector('html')?.getAttribute('lang')).toBe('hu');
    expect(question.text('h1')).toBe('Kijelentkezés');
    expect(question.visibleText).toContain('Ki szeretne jelentkezni?');
    const external = referencedUrls(question).filter((u) => /^(https?:)?\/\//i.test(u) && new URL(u, kapu.url).origin !== kapu.url);
    expect(external).toEqual([]);

    const yes = question.doc.querySelectorAll('button').find((b) => b.text.trim() === 'Igen, kijelentkezem');
    expect(yes).toBeDefined();
    const formId = yes!.getAttribute('form')!;
    const form = question.doc.querySelectorAll('form').find((f) => f.getAttribute('id') === formId)!;
    await browser.submit(question, form.getAttribute('action')!, {}, { name: yes!.getAttribute('name')!, value: yes!.getAttribute('value')! });
    expect(`${browser.exitUrl?.origin}${browser.exitUrl?.pathname}`).toBe(POST_LOGOUT);
    expect(browser.exitUrl?.searchParams.get('state')).toBe(state);

    const afterLogout = await browser.go((await beginSignIn(rp)).url);
    expect(afterLogout.hasForm('/method')).toBe(true);
    expect(afterLogout.visibleText).toContain('Ügyfélkapuval');
  });

  describe('replicas on one Postgres', () => {
    const withPostgres = process.env['DATABASE_URL'] ? test : test.skip;

    withPostgres('a sign-in started on one replica finishes on another, and both publish the same JWKS', async () => {
      const { clientId, clientSecret } = await kapu.client();
      const account = await kapu.account('replika.reka');
      const pair = await startReplicas(kapu, 2);
      try {
        const rp = await oidc.discovery(new URL(pair.url), clientId, clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
        const browser = new Browser(pair.url);
        const request = await beginSignIn(rp);

        pair.routeTo(0);
        const chooser = await browser.go(request.url);
        expect(chooser.hasForm('/method')).toBe(true);
        const startedOn = [...pair.served];

        pair.routeTo(1);
        const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
        await browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD });
        expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
        const tokens = await request.finish(browser.exitUrl!);
        expect(tokens.claims()).toMatchObject({ iss: pair.url, sub: account.id, acr: LOW });
        expect(startedOn[0]).toBeGreaterThan(0);
        expect(startedOn[1]).toBe(0);
        expect(pair.served[1]).toBeGreaterThan(0);
        expect(pair.served[0]).toBe(startedOn[0]);

        const published = [];
        for (const index of [0, 1]) {
          pair.routeTo(index);
          published.push(await fetchJwks(`${pair.url}/jwks`));
        }
        expect(published[0]!.length).toBeGreaterThan(0);
        expect(published[1]).toEqual(published[0]);
        expect(await fetchJwks(`${kapu.url}/jwks`)).toEqual(published[0]);
      } finally {
        await pair.close();
      }
    });
  });
});
