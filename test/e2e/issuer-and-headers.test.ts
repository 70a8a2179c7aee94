/**
 * Issue 9, items 3 and 6: discovery and every URL kapu builds come from ISSUER, never from the
 * request's Host or X-Forwarded-Host, and discovery may be cached by anyone; the pages
 * oidc-provider renders itself carry kapu's CSP and security headers; discovery's
 * service_documentation is a page that exists, and it advertises only the client
 * authentication methods kapu registers.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { AUTH_METHODS } from '../../src/oidc/client-metadata.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, RP_REDIRECT, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

/** A GET with headers fetch would not let us set (Host). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every string in discovery that is a URL. */
function urlsIn(doc: Record<string, unknown>): string[] {
  return Object.values(doc).filter((v): v is string => typeof v === 'string' && /^https?:\/\//.test(v));
}

/** kapu's strict policy on a page: nothing loads from elsewhere, no framing. */
function expectStrictHeaders(page: Page, formTargets: string[] = []): void {
  const csp = page.headers.get('content-security-policy') ?? '';
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]));
  expect(directives['default-src']).toEqual(["'none'"]);
  expect(directives['frame-ancestors']).toEqual(["'none'"]);
  for (const [name, sources] of Object.entries(directives)) {
    for (const source of sources as string[]) {
      const allowed = source.startsWith("'") || source === 'data:' || (name === 'form-action' && formTargets.includes(source));
      expect({ name, source, allowed }).toEqual({ name, source, allowed: true });
    }
  }
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('cache-control')).toBe('no-store');
}

describe.each([
  ['directly', {}],
  ['behind a trusted proxy', { TRUST_PROXY: 'true' }],
])('discovery pinned to ISSUER (%s)', (_how, env: Record<string, string>) => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('Host and X-Forwarded-Host never reach the advertised URLs, and a shared cache may keep the one answer', async () => {
    const honest = await rawGet(`${kapu.url}/.well-known/openid-configuration`, {});
    const forged = await rawGet(`${kapu.url}/.well-known/openid-configuration`, { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(forged.status).toBe(200);
    const doc = JSON.parse(forged.body) as Record<string, unknown>;
    expect(doc).toEqual(JSON.parse(honest.body));
    expect(doc['issuer']).toBe(kapu.url);
    const urls = urlsIn(doc);
    expect(urls.length).toBeGreaterThan(8);
    expect(urls.filter((u) => u !== kapu.url && !u.startsWith(`${kapu.url}/`))).toEqual([]);
    expect(forged.headers['cache-control']).toBe('public, max-age=300');
  });

  test('a redirect kapu sends is relative to ISSUER too', async () => {
    const res = await rawGet(`${kapu.url}/interaction/nope`, { host: 'evil.example', 'x-forwarded-host': 'evil.example' });
    expect(String(res.headers['location'] ?? '')).not.toContain('evil.example');
    expect(res.body).not.toContain('evil.example');
  });
});

describe("the provider's own pages and discovery's promises", () => {
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let clientId: string;
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp, clientId } = await kapu.client());
    await kapu.account('fejlec.ferenc');
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('the form_post response has a CSP that allows its one script by hash and posts only to the RP', async () => {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp, { response_mode: 'form_post' });
    const page = await signInWithPassword(browser, signIn.url, 'legacy', 'fejlec.ferenc', PASSWORD);
    expect(page.status).toBe(200);
    expect(page.form('').getAttribute('action')).toBe(RP_REDIRECT);
    const script = page.doc.querySelector('script')!.textContent;
    const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`script-src ${hash}`);
    expect(csp).toMatch(new RegExp(`form-action 'self' ${new URL(RP_REDIRECT).origin}(;|$)`));
    expectStrictHeaders(page, [new URL(RP_REDIRECT).origin]);
  });

  test('the logout confirmation and the signed-out page carry the headers', async () => {
    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', 'fejlec.ferenc', PASSWORD);
    const confirm = await browser.go(`/session/end?client_id=${clientId}`);
    expect(confirm.status).toBe(200);
    expectStrictHeaders(confirm, ['https://rp.example.hu']);
    const done = await browser.submit(confirm, '/session/end/confirm', {}, { name: 'logout', value: 'yes' });
    expect(done.status).toBe(200);
    expect(done.url.pathname).toBe('/session/end/success');
    expectStrictHeaders(done);
  });

  test('service_documentation is a page that exists; only the registered client auth methods are advertised', async () => {
    const doc = (await (await fetch(`${kapu.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const documentation = await fetch(doc['service_documentation'] as string);
    expect(documentation.status).toBe(200);
    expect(documentation.headers.get('content-type')).toMatch(/^text\/html/);
    expect(doc['token_endpoint_auth_methods_supported']).toBeDefined();
    const keys = ['token_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported'];
    for (const key of keys.filter((k) => doc[k] !== undefined)) {
      expect([key, [...(doc[key] as string[])].sort()]).toEqual([key, [...AUTH_METHODS].sort()]);
    }
  });
});
