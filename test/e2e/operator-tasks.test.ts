/**
 * What an operator's commands do to a running kapu, as a citizen and an RP notice it: a disabled
 * account is out at once and cannot sign in; a rotated client secret keeps the old one working
 * for the grace period only; back-channel logout reaches an RP that registered for it; in
 * production, http:// redirect URIs and invisible characters in names are refused.
 */
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { disableAccount, enableAccount } from '../../src/admin/accounts.ts';
import { registerClient, rotateClientSecret } from '../../src/admin/clients.ts';
import { Browser } from '../helpers/browser.ts';
import { PASSWORD, type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

const insecure = { execute: [oidc.allowInsecureRequests] };

let kapu: TestKapu;
beforeAll(async () => {
  kapu = await startTestKapu();
});
afterAll(async () => {
  await kapu?.close();
});

async function signIn(rp: oidc.Configuration, username: string, browser = new Browser(kapu.url)) {
  const flow = await beginSignIn(rp);
  const page = await signInWithPassword(browser, flow.url, 'legacy', username);
  if (!browser.exitUrl) return { page, tokens: null, browser };
  return { page, tokens: await flow.finish(browser.exitUrl), browser };
}

test('a disabled account is signed out everywhere at once and cannot sign in until enabled', async () => {
  const { rp } = await kapu.client();
  const account = await kapu.account('letiltott.lili');
  const { tokens } = await signIn(rp, account.username);
  expect(await oidc.fetchUserInfo(rp, tokens!.access_token, account.id)).toMatchObject({ sub: account.id });

  const { changed, ended } = await disableAccount(kapu.deps, account.username);
  expect(changed).toBe(true);
  expect(ended).toBeGreaterThan(0);
  // The access token it had a moment ago no longer works.
  await expect(oidc.fetchUserInfo(rp, tokens!.access_token, account.id)).rejects.toThrow();
  expect((await oidc.tokenIntrospection(rp, tokens!.access_token)).active).toBe(false);

  // The right password now gets the same answer as a wrong one: no way in, nothing revealed.
  const refused = await signIn(rp, account.username);
  expect(refused.tokens).toBeNull();
  const wrong = await (async () => {
    const browser = new Browser(kapu.url);
    return signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', account.username, `${PASSWORD}!`);
  })();
  expect(refused.page.status).toBe(wrong.status);
  expect(refused.page.visibleText).toBe(wrong.visibleText);

  await enableAccount(kapu.deps, account.username);
  expect((await signIn(rp, account.username)).tokens?.claims()?.sub).toBe(account.id);
});

test('after rotate-secret the old secret works for the grace period only; the new one works at once', async () => {
  const { clientId, clientSecret: oldSecret, rp } = await kapu.client();
  const account = await kapu.account('titok.tamas');
  const { tokens } = await signIn(rp, account.username);
  const { clientSecret: newSecret } = await rotateClientSecret(kapu.deps, clientId, 300);
  const withSecret = (secret: string) => oidc.discovery(new URL(kapu.url), clientId, secret, undefined, insecure);

  expect((await oidc.tokenIntrospection(await withSecret(newSecret), tokens!.access_token)).active).toBe(true);
  expect((await oidc.tokenIntrospection(await withSecret(oldSecret), tokens!.access_token)).active).toBe(true);
  await expect(oidc.tokenIntrospection(await withSecret('nem-a-titok-'.repeat(4)), tokens!.access_token)).rejects.toMatchObject({ error: 'invalid_client' });

  // (The access token itself lives 10 minutes: still valid after the 5-minute grace.)
  kapu.clock.advance(301);
  await expect(oidc.tokenIntrospection(await withSecret(oldSecret), tokens!.access_token)).rejects.toMatchObject({ error: 'invalid_client' });
  expect((await oidc.tokenIntrospection(await withSecret(newSecret), tokens!.access_token)).active).toBe(true);
});

test('back-channel logout: an RP that registered for it receives a signed logout token when the citizen signs out at kapu', async () => {
  const received: string[] = [];
  let notify = () => {};
  const arrived = new Promise<void>((resolve) => (notify = resolve));
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/backchannel-logout') received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end();
      notify();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  try {
    const backchannel = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel-logout`;
    const { clientId, rp } = await kapu.client({ backchannelLogoutUri: backchannel });
    const account = await kapu.account('kijelentkezo.karoly');
    const { tokens, browser } = await signIn(rp, account.username);
    const sid = tokens!.claims()!['sid'];
    expect(sid).toEqual(expect.any(String));

    const question = await browser.go(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens!.id_token!, post_logout_redirect_uri: 'https://rp.example.hu/bye' }));
    const yes = question.doc.querySelectorAll('button').find((b) => b.text.trim() === 'Igen, kijelentkezem')!;
    const form = question.doc.querySelectorAll('form').find((f) => f.getAttribute('id') === yes.getAttribute('form'))!;
    await browser.submit(question, form.getAttribute('action')!, {}, { name: yes.getAttribute('name')!, value: yes.getAttribute('value')! });
    await arrived;

    expect(received).toHaveLength(1);
    const { payload, protectedHeader } = await jwtVerify(received[0]!, createRemoteJWKSet(new URL(`${kapu.url}/jwks`)), {
      issuer: kapu.url,
      audience: clientId,
      typ: 'logout+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: account.id, sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    expect(payload['nonce']).toBeUndefined();
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
});

test("an RP's own token lifetimes (within bounds) are what its tokens get", async () => {
  const { rp } = await kapu.client({ lifetimes: { access_token_ttl: 120, id_token_ttl: 300 } });
  const account = await kapu.account('rovid.reka');
  const { tokens } = await signIn(rp, account.username);
  expect(tokens!.expires_in).toBe(120);
  const claims = tokens!.claims()!;
  expect(claims.exp - claims.iat).toBe(300);
  await expect(kapu.client({ clientId: 'hosszu-rp', lifetimes: { access_token_ttl: 86_400 } })).rejects.toThrow(/access_token_ttl must be a whole number of seconds from 60 to 3600/);
});

test('in production, http:// redirect URIs and invisible characters in client names are refused', async () => {
  const production = { ...kapu.deps, config: { ...kapu.deps.config, production: true } };
  const base = { authMethod: 'client_secret_basic' as const };
  await expect(registerClient(production, kapu.provider, { ...base, clientId: 'http-rp', redirectUris: ['http://rp.example.hu/cb'] })).rejects.toThrow(
    /http:\/\/ URIs are refused in production/,
  );
  await expect(
    registerClient(production, kapu.provider, { ...base, clientId: 'bcl-rp', redirectUris: ['https://rp.example.hu/cb'], backchannelLogoutUri: 'http://rp.example.hu/bcl' }),
  ).rejects.toThrow(/refused in production/);
  await expect(
    registerClient(production, kapu.provider, { ...base, clientId: 'bidi-rp', clientName: 'Adó\u202e', redirectUris: ['https://rp.example.hu/cb'] }),
  ).rejects.toThrow(/bidirectional/);
  expect(await registerClient(production, kapu.provider, { ...base, clientId: 'loopback-rp', redirectUris: ['http://127.0.0.1:8400/cb'] })).toMatchObject({
    clientId: 'loopback-rp',
  });
  expect((await kapu.deps.repos.clients.list()).map((c) => c.client_id)).not.toEqual(expect.arrayContaining(['http-rp', 'bcl-rp', 'bidi-rp']));
});
