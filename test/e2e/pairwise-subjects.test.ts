/**
 * Issue 15, item 8: pairwise subject identifiers (OIDC Core §8.1), as RPs on a standard library
 * (openid-client) see them. Government services in different sectors get different `sub`
 * values for one citizen and cannot join their records on it; services of one sector get the
 * same; public RPs keep the account id. The value is stable across sign-ins and replicas, and
 * the ID token, userinfo, introspection and the back-channel logout token agree on it.
 */
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { startReplicas } from '../helpers/replicas.ts';

const ADO = 'https://ado.example.hu/cb';
const ADO_OTHER = 'https://ado.example.hu/masik';
const UGYFEL = 'https://ugyfel.example.hu/cb';
const EGESZSEG = 'https://egeszseg.example.hu/cb';

describe('pairwise subject identifiers', () => {
  let kapu: TestKapu;
  /** Logout tokens the tax office's RP received on its back-channel logout URI. */
  const logoutTokens: string[] = [];
  let tokenArrived: () => void = () => {};
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end();
      tokenArrived();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  /** A sign-in at `rp` through `redirectUri`, in `browser` (already signed in at kapu: no page). */
  async function signIn(rp: oidc.Configuration, redirectUri: string, browser: Browser, username?: string) {
    const request = await beginSignIn(rp, { redirect_uri: redirectUri });
    if (username) await signInWithPassword(browser, request.url, 'legacy', username);
    else await browser.go(request.url);
    expect(`${browser.exitUrl?.origin}${browser.exitUrl?.pathname}`).toBe(redirectUri);
    return request.finish(browser.exitUrl!);
  }

  test('discovery lists both subject types', async () => {
    const { rp } = await kapu.client();
    expect(rp.serverMetadata().subject_types_supported).toEqual(['public', 'pairwise']);
  });

  test('one citizen, five RPs: each sector its own stable sub, one sector one sub, a public RP the account id; userinfo, introspection and logout agree', async () => {
    const backchannel = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel-logout`;
    const ado = await kapu.client({ clientId: 'ado-rp', subjectType: 'pairwise', redirectUris: [ADO], backchannelLogoutUri: backchannel });
    const adoOther = await kapu.client({ clientId: 'ado-masik-rp', subjectType: 'pairwise', redirectUris: [ADO_OTHER] });
    // Redirect URIs on two hosts: the sector identifier URI names the sector (kapu never fetches it).
    const adoApp = await kapu.client({
      clientId: 'ado-app-rp',
      subjectType: 'pairwise',
      redirectUris: ['https://ado-app.example.hu/cb', UGYFEL],
      sectorIdentifierUri: 'https://ado.example.hu/sector.json',
    });
    const egeszseg = await kapu.client({ clientId: 'egeszseg-rp', subjectType: 'pairwise', redirectUris: [EGESZSEG] });
    const publicRp = await kapu.client({ clientId: 'nyilvanos-rp' });
    const account = await kapu.account('paros.piroska');

    const browser = new Browser(kapu.url);
    const atAdo = await signIn(ado.rp, ADO, browser, account.username);
    const sub = atAdo.claims()!.sub;
    expect(sub).not.toBe(account.id);
    expect(sub).not.toContain(account.id);
    // Single sign-on: the other RPs get their tokens without a page.
    const subs = {
      sameHost: (await signIn(adoOther.rp, ADO_OTHER, browser)).claims()!.sub,
      sectorUri: (await signIn(adoApp.rp, UGYFEL, browser)).claims()!.sub,
      otherSector: (await signIn(egeszseg.rp, EGESZSEG, browser)).claims()!.sub,
      public: (await signIn(publicRp.rp, 'https://rp.example.hu/callback', browser)).claims()!.sub,
    };
    expect(subs).toEqual({ sameHost: sub, sectorUri: sub, otherSector: expect.any(String), public: account.id });
    expect([sub, account.id]).not.toContain(subs.otherSector);

    // A new sign-in, in another browser: the same value again.
    expect((await signIn(ado.rp, ADO, new Browser(kapu.url), account.username)).claims()!.sub).toBe(sub);

    // The RP's other views of the citizen say the same.
    const userinfo = await oidc.fetchUserInfo(ado.rp, atAdo.access_token, sub);
    expect(userinfo.sub).toBe(sub);
    expect((await oidc.tokenIntrospection(ado.rp, atAdo.access_token)).sub).toBe(sub);

    // Signing out at kapu: the tax office's back-channel logout token names the same sub and session.
    const arrived = new Promise<void>((resolve) => (tokenArrived = resolve));
    const question = await browser.go(oidc.buildEndSessionUrl(ado.rp, { id_token_hint: atAdo.id_token!, post_logout_redirect_uri: 'https://rp.example.hu/bye' }));
    const yes = question.doc.querySelectorAll('button').find((b) => b.text.trim() === 'Igen, kijelentkezem')!;
    const form = question.doc.querySelectorAll('form').find((f) => f.getAttribute('id') === yes.getAttribute('form'))!;
    await browser.submit(question, form.getAttribute('action')!, {}, { name: yes.getAttribute('name')!, value: yes.getAttribute('value')! });
    await arrived;
    expect(logoutTokens).toHaveLength(1);
    const { payload } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(`${kapu.url}/jwks`)), { issuer: kapu.url, audience: 'ado-rp' });
    expect(payload).toMatchObject({ sub, sid: atAdo.claims()!['sid'] });
  });

  (process.env['DATABASE_URL'] ? test : test.skip)("another replica gives the same sub: the key is the installation's, not the process's", async () => {
    const { clientId, clientSecret, rp } = await kapu.client({ clientId: 'replika-rp', subjectType: 'pairwise', redirectUris: [EGESZSEG] });
    const account = await kapu.account('replika.rozalia');
    const here = (await signIn(rp, EGESZSEG, new Browser(kapu.url), account.username)).claims()!.sub;
    const replicas = await startReplicas(kapu, 1);
    try {
      const there = await oidc.discovery(new URL(replicas.url), clientId, clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
      const browser = new Browser(replicas.url);
      const request = await beginSignIn(there, { redirect_uri: EGESZSEG });
      await signInWithPassword(browser, request.url, 'legacy', account.username);
      expect((await request.finish(browser.exitUrl!)).claims()!.sub).toBe(here);
    } finally {
      await replicas.close();
    }
  });
});
