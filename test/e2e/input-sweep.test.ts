/**
 * No input gives a 500 (issue 9, item 1): every route of kapu's and of the provider's, swept
 * with a NUL character, percent-encoding that is not UTF-8, oversized and duplicated values in
 * the path, the query, a form body, a JSON body and a Basic client header. Bad values are
 * refused as a 4xx before any database statement. A 500 that still happens is logged with its
 * error.
 */
import { Writable } from 'node:stream';
import Router from '@koa/router';
import { accountRoutes } from '../../src/account/routes.ts';
import { demoRoutes } from '../../src/demo/routes.ts';
import { seedDemo } from '../../src/demo/seed.ts';
import { assetRoutes } from '../../src/http/assets.ts';
import { clientLogoRoutes } from '../../src/oidc/client-logo-routes.ts';
import { healthRoutes } from '../../src/http/health.ts';
import { metricsRoutes } from '../../src/http/metrics.ts';
import { interactionRoutes } from '../../src/interactions/routes.ts';
import { unlockLinkRoutes } from '../../src/interactions/unlock.ts';
import { createLogger } from '../../src/log.ts';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, startTestKapu } from '../helpers/kapu.ts';

const FIELDS = [
  'client_id', 'code', 'refresh_token', 'token', 'token_type_hint', 'grant_type', 'redirect_uri', 'code_verifier',
  'response_type', 'scope', 'state', 'nonce', 'request_uri', 'id_token_hint', 'post_logout_redirect_uri', 'logout',
  'xsrf', 'username', 'password', 'csrf', 'method', 'factor', 'email', 'lang', 'notice',
];

/** Encoded values, as they appear in a query or form body. */
const BAD = {
  nul: 'a%00b',
  notUtf8: '%FF%FEx%C3',
  oversized: 'x'.repeat(70 * 1024),
  duplicated: 'a&{field}=b',
  // In the body only (the query is left clean, so the body itself is what is refused):
  // percent-encoding of a truncated sequence and of a surrogate, and a raw 0xFF byte.
  truncated: '%C3%28',
  surrogate: '%ED%A0%80',
  rawByte: 'a\u00ffb',
};
const BODY_ONLY = new Set(['truncated', 'surrogate', 'rawByte']);
/** Bad values that are refused before any database statement. */
const REFUSED_UNREAD = new Set(['nul', 'notUtf8', ...BODY_ONLY]);

/** Every route the provider serves. */
const PROVIDER_ROUTES = [
  '/.well-known/openid-configuration', '/jwks', '/auth', '/auth/:uid', '/token', '/me', '/request', '/token/introspection',
  '/token/revocation', '/session/end', '/session/end/confirm', '/session/end/success', '/backchannel',
];

/** A capturing log: every line kapu writes, parsed. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

describe('bad input sweep', () => {
  let kapu: TestKapu;
  let uid: string;
  const captured = captureLog();
  beforeAll(async () => {
    // No mail polling: every statement counted during the sweep is the request's.
    kapu = await startTestKapu({ overrides: { log: captured.log, mailPollMs: 3_600_000 } });
    // The demo RP (served on the embedded database) is swept as it runs: seeded.
    if (kapu.deps.config.demo) await seedDemo(kapu.deps, kapu.provider);
    const { rp } = await kapu.client();
    const page = await new Browser(kapu.url).go((await beginSignIn(rp)).url);
    uid = /^\/interaction\/([^/]+)$/.exec(page.url.pathname)![1]!;
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** kapu's own routes, read from its routers. */
  function ownRoutes(): Array<{ path: string; methods: string[] }> {
    const deps = kapu.deps;
    const routers: Router[] = [healthRoutes(deps), metricsRoutes(deps.metrics), assetRoutes(), clientLogoRoutes(deps.clientLogos), interactionRoutes(deps, kapu.provider), unlockLinkRoutes(deps), accountRoutes(deps), ...deps.factorModules.flatMap((m) => m.routes?.(deps.factorDeps) ?? []), demoRoutes(deps)];
    return routers.flatMap((r) => r.stack.map((layer) => ({ path: layer.path as string, methods: layer.methods.filter((m) => m !== 'HEAD') })));
  }

  function fill(path: string, value: string): string {
    return path.replace(/:[a-z]+/gi, value);
  }

  test('no route answers 5xx, and no bad value reaches the database', async () => {
    const routes = [...ownRoutes(), ...PROVIDER_ROUTES.map((path) => ({ path, methods: ['GET', 'POST'] }))];
    expect(routes.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const { path, methods } of routes) {
      for (const [kind, bad] of Object.entries(BAD)) {
        const value = (field: string) => bad.replace('{field}', field);
        const query = FIELDS.map((f) => `${f}=${value(f)}`).join('&');
        const bodyOnly = BODY_ONLY.has(kind);
        // A raw byte: the body's text is sent byte for byte (latin1), so U+00FF goes as 0xFF.
        const bytes = (text: string) => Buffer.from(text, kind === 'rawByte' ? 'latin1' : 'utf8');
        const targets = [fill(path, uid), ...(path.includes(':') && kind !== 'duplicated' && !bodyOnly ? [fill(path, value('uid'))] : [])];
        for (const target of targets) {
          for (const method of methods) {
            // A percent-encoding means nothing in JSON: there the bad value goes as raw bytes.
            const jsonValue = (f: string) => (kind === 'nul' ? 'a\0b' : bodyOnly ? 'a\u00ffb' : value(f));
            const requests: RequestInit[] =
              method === 'GET'
                ? [{ method }]
                : [
                    { method, body: bytes(query), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
                    { method, body: bytes(query), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('a\0b:secret').toString('base64')}` } },
                    { method, body: Buffer.from(JSON.stringify(Object.fromEntries(FIELDS.map((f) => [f, jsonValue(f)]))), bodyOnly ? 'latin1' : 'utf8'), headers: { 'content-type': 'application/json' } },
                  ];
            for (const init of requests) {
              const url = `${kapu.url}${target}${(method === 'GET' || kind !== 'oversized') && !bodyOnly ? `?${query}` : ''}`;
              const before = kapu.deps.dbStats.statements;
              const res = await fetch(url, { ...init, redirect: 'manual' });
              await res.arrayBuffer();
              if (res.status >= 500) failures.push(`${method} ${target.slice(0, 60)} (${kind}): ${res.status}`);
              // A NUL or a broken encoding is refused before any statement is sent (a GET has no body to refuse).
              const queried = kapu.deps.dbStats.statements - before;
              if (REFUSED_UNREAD.has(kind) && !(bodyOnly && method === 'GET') && queried > 0) failures.push(`${method} ${target.slice(0, 60)} (${kind}): ${queried} statements`);
              if (bodyOnly && method !== 'GET' && res.status !== 400 && res.status !== 415 && res.status !== 405) failures.push(`${method} ${target.slice(0, 60)} (${kind}): ${res.status}, not refused`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(captured.lines.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
  }, 120_000);

  test('a good request to the provider is logged once, as answered: never first refused as a 404 on its way in', async () => {
    const from = captured.lines.length;
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const res = await fetch(`${kapu.url}${path}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const logged = () => captured.lines.slice(from);
    for (let turns = 0; logged().filter((l) => l['msg'] === 'request').length < 2 && turns < 10_000; turns += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(logged().map((l) => [l['msg'], l['path'] ?? null, l['status']])).toEqual([
      ['request', '/.well-known/openid-configuration', 200],
      ['request', '/jwks', 200],
    ]);
  });

  test.each([
    ['/auth?client_id=a%00b', 'GET', ''],
    ['/token', 'POST', 'grant_type=authorization_code&code=a%00b&client_id=rp-1'],
    ['/token', 'POST', 'grant_type=refresh_token&refresh_token=a%00b&client_id=rp-1'],
    ['/token/introspection', 'POST', 'token=a%00b&client_id=rp-1'],
    ['/token/revocation', 'POST', 'token=a%00b&client_id=rp-1'],
    ['/request', 'POST', 'client_id=a%00b&response_type=code'],
    ['/session/end?id_token_hint=a%00b', 'GET', ''],
  ])('%s %s with a NUL is an OAuth 400', async (path, method, body) => {
    const res = await fetch(`${kapu.url}${path}`, {
      method,
      headers: { accept: 'application/json', ...(body && { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(body && { body }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('the username on the password step with a NUL is a 400 that stores nothing', async () => {
    const browser = new Browser(kapu.url);
    const { rp } = await kapu.client();
    const chooser = await browser.go((await beginSignIn(rp)).url);
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
    const csrf = passwordPage.value('input[name="csrf"]')!;
    // The sweep's device API requests may have counted on the address: only what this one adds matters.
    const throttled = () => kapu.deps.db.selectFrom('auth_throttle').select(['key', 'failures']).orderBy('key').execute();
    const counted = await throttled();
    const before = kapu.deps.dbStats.statements;
    const res = await browser.post(`${passwordPage.url.pathname}/password`, `csrf=${csrf}&username=kov%00acs&password=x`);
    expect(res.status).toBe(400);
    expect(kapu.deps.dbStats.statements - before).toBe(0);
    expect(await throttled()).toEqual(counted);
    expect(counted.filter((row) => !row.key.startsWith('dap-'))).toEqual([]);
  });
});

describe('a 500 that still happens', () => {
  test("is logged with its error, the provider's too", async () => {
    const captured = captureLog();
    const kapu = await startTestKapu({ overrides: { log: captured.log, mailPollMs: 3_600_000 } });
    try {
      const { rp } = await kapu.client();
      const url = (await beginSignIn(rp)).url;
      await kapu.deps.db.destroy();
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(500);
      const errors = captured.lines.filter((l) => l['level'] === 50 && l['msg'] === 'provider server error');
      expect(errors).toEqual([expect.objectContaining({ reqId: res.headers.get('x-request-id'), err: expect.objectContaining({ message: expect.any(String) }) })]);
    } finally {
      await kapu.close();
    }
  });
});
