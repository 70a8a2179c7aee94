/**
 * Bad input anywhere gets a clear 4xx on kapu's own page, never a 500, never a stack trace, and
 * nothing is stored half-way: the sign-in still takes its right next step afterwards (SPEC §5).
 * Also the operational endpoints (SPEC §7) and the headers every page carries.
 */
import { randomUUID } from 'node:crypto';
import { Browser, Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, RP_REDIRECT, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';

const RP_ORIGIN = new URL(RP_REDIRECT).origin;

/** What the citizen reads on each kind of error page (views/locales/hu.json). */
const SAYS = {
  badRequest: 'A kérés hibás vagy hiányos.',
  tooLarge: 'A beküldött adat túl nagy.',
  csrf: 'A lap elavult. Töltse be újra, és próbálja ismét.',
  expired: 'A bejelentkezés ideje lejárt vagy a lap már nem érvényes.',
  wrongStep: 'Ez a lépés már nem érvényes',
  notFound: 'A keresett oldal nem található.',
  missingPassword: 'Adja meg a felhasználónevét és a jelszavát.',
  codeFormat: 'A kód hat számjegyből áll.',
};

const FORMS = ['method', 'password', 'factor', 'verify', 'resend', 'abort', 'consent', 'restart'];

/** Traces of an exception that must never reach a page: frames, paths, error class names. */
const INTERNALS = [/\n\s+at .+:\d+:\d+/, /node_modules/, /\/work\//, /\b[A-Z][A-Za-z]*Error\b/, /Unexpected token/i, /entity too large/i];

/**
 * Content-Security-Policy sources that load nothing from another host: keywords and data:
 * images. form-action may name the RP's origin, where a sign-in form's redirects end.
 */
function cspViolations(headers: Headers): string[] {
  const csp = headers.get('content-security-policy');
  if (!csp) return ['no Content-Security-Policy'];
  return csp.split(';').flatMap((directive) => {
    const [name, ...sources] = directive.trim().split(/\s+/);
    return sources
      .filter((s) => !(s.startsWith("'") || s === 'data:' || (name === 'form-action' && s === RP_ORIGIN)))
      .map((s) => `${name} ${s}`);
  });
}

/** An HTML page of kapu's: strict CSP, nosniff, and no trace of an exception in it. */
function expectKapuPage(page: Page): void {
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(cspViolations(page.headers)).toEqual([]);
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(INTERNALS.filter((pattern) => pattern.test(page.html))).toEqual([]);
}

/** kapu's error page with this status, saying this. */
async function expectErrorPage(res: Response, status: number, says: string): Promise<Page> {
  const page = new Page(new URL(res.url), res.status, await res.text(), res.headers);
  expect({ status: page.status, says: page.text('.error') }).toEqual({ status, says: expect.stringContaining(says) });
  expect(page.text('h1')).toBe('Hiba történt');
  expectKapuPage(page);
  return page;
}

describe('bad input', () => {
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** A sign-in at the method chooser: its browser, page, uid and CSRF token. */
  async function openFlow() {
    const browser = new Browser(kapu.url);
    const page = await browser.go((await beginSignIn(rp)).url);
    expect(page.hasForm('/method')).toBe(true);
    const uid = /^\/interaction\/([^/]+)$/.exec(page.url.pathname)![1]!;
    return { browser, page, uid, csrf: page.value('input[name="csrf"]')! };
  }

  /** A sign-in of a TOTP account, at the code step. */
  async function flowAtTotpStep(username: string) {
    const account = await kapu.account(username, ['totp']);
    const flow = await openFlow();
    const passwordPage = await flow.browser.submit(flow.page, '/method', {}, { name: 'method', value: 'totp' });
    const page = await flow.browser.submit(passwordPage, '/password', { username, password: PASSWORD });
    expect(page.hasForm('/verify')).toBe(true);
    return { ...flow, page, account, secret: account.totpSecret! };
  }

  /** The flow's stored row, as it is now (null when there is none). */
  function flowRow(uid: string) {
    return kapu.deps.db.selectFrom('login_flow').selectAll().where('uid', '=', uid).executeTakeFirst().then((row) => row ?? null);
  }

  /** Everything the sign-in of this account has left in the audit log and the throttle. */
  async function traces(accountId: string, username: string) {
    const audit = await kapu.deps.db.selectFrom('audit_event').select(['type']).where('account_id', '=', accountId).execute();
    const throttle = await kapu.deps.db.selectFrom('auth_throttle').select(['key', 'failures']).orderBy('key').execute();
    return { audit: audit.map((e) => e.type).sort(), throttle, username };
  }

  function post(browser: Browser, uid: string, step: string, body: string | Uint8Array, contentType?: string): Promise<Response> {
    return browser.post(`/interaction/${uid}/${step}`, body, contentType);
  }

  describe.each(FORMS)('POST /interaction/:uid/%s', (step) => {
    test('refuses a JSON body, another content type, an oversized body, a missing or wrong CSRF token, an unknown uid and a missing cookie; the flow is untouched', async () => {
      const { browser, page, uid, csrf } = await openFlow();
      const before = await flowRow(uid);
      const fields = 'method=legacy&username=a&password=b&factor=totp&code=123456';
      const strangerUid = randomUUID();

      await expectErrorPage(await post(browser, uid, step, JSON.stringify({ csrf, method: 'legacy' }), 'application/json'), 415, SAYS.badRequest);
      await expectErrorPage(await post(browser, uid, step, `csrf=${csrf}&${fields}`, 'text/plain'), 415, SAYS.badRequest);
      await expectErrorPage(await post(browser, uid, step, `csrf=${csrf}&${fields}&pad=${'x'.repeat(17 * 1024)}`), 413, SAYS.tooLarge);
      await expectErrorPage(await post(browser, uid, step, fields), 403, SAYS.csrf);
      await expectErrorPage(await post(browser, uid, step, `csrf=${'A'.repeat(csrf.length)}&${fields}`), 403, SAYS.csrf);
      await expectErrorPage(await post(browser, uid, step, `csrf[]=${csrf}&csrf[]=${csrf}&${fields}`), 403, SAYS.csrf);
      await expectErrorPage(await post(browser, strangerUid, step, `csrf=${csrf}&${fields}`), 400, SAYS.expired);
      await expectErrorPage(await post(new Browser(kapu.url), uid, step, `csrf=${csrf}&${fields}`), 400, SAYS.expired);

      expect(await flowRow(uid)).toEqual(before);
      expect(await flowRow(strangerUid)).toBeNull();
      const next = await browser.submit(page, '/method', {}, { name: 'method', value: 'legacy' });
      expect(next.hasForm('/password')).toBe(true);
    });
  });

  describe('a step posted in the wrong state is a 409 that leads back to the current step, and changes nothing', () => {
    // abort is welcome in every state, so it has no wrong one.
    test.each([
      ['method', 'password'],
      ['restart', 'choose_method'],
      ['password', 'choose_method'],
      ['factor', 'password'],
      ['verify', 'choose_method'],
      ['resend', 'password'],
      ['consent', 'password'],
    ])('/%s while the flow is at %s', async (step, state) => {
      const flow = await openFlow();
      if (state === 'password') await flow.browser.submit(flow.page, '/method', {}, { name: 'method', value: 'legacy' });
      const before = await flowRow(flow.uid);
      expect(before?.state).toBe(state);

      const refused = await expectErrorPage(await post(flow.browser, flow.uid, step, `csrf=${flow.csrf}&method=legacy&factor=totp&code=123456`), 409, SAYS.wrongStep);
      expect(refused.doc.querySelectorAll('a').some((a) => a.getAttribute('href') === `/interaction/${flow.uid}`)).toBe(true);

      expect(await flowRow(flow.uid)).toEqual(before);
      const current = await flow.browser.go(`/interaction/${flow.uid}`);
      expect(current.hasForm(state === 'password' ? '/password' : '/method')).toBe(true);
    });
  });

  describe('missing fields and fields of the wrong type', () => {
    test('/method: no method, two methods, or an unknown one is a 400; then choosing a method works', async () => {
      const { browser, page, uid, csrf } = await openFlow();
      const before = await flowRow(uid);
      for (const body of [`csrf=${csrf}`, `csrf=${csrf}&method[]=legacy&method[]=email`, `csrf=${csrf}&method[x]=legacy`, `csrf=${csrf}&method=eszemelyi`, `csrf=${csrf}&method=${'l'.repeat(5000)}`]) {
        await expectErrorPage(await post(browser, uid, 'method', body), 400, SAYS.badRequest);
      }
      expect(await flowRow(uid)).toEqual(before);
      expect((await browser.submit(page, '/method', {}, { name: 'method', value: 'legacy' })).hasForm('/password')).toBe(true);
    });

    test('/password: a missing field or an array asks again (400) and counts nothing; then the right password signs in', async () => {
      const account = await kapu.account('hianyos.hanna');
      const flow = await openFlow();
      const passwordPage = await flow.browser.submit(flow.page, '/method', {}, { name: 'method', value: 'legacy' });
      const before = { flow: await flowRow(flow.uid), traces: await traces(account.id, account.username) };
      const u = encodeURIComponent(account.username);
      const p = encodeURIComponent(PASSWORD);
      for (const body of [`username=${u}`, `password=${p}`, '', `username[]=${u}&username[]=${u}&password=${p}`, `username=${u}&password[]=${p}&password[]=${p}`, `username[a]=${u}&password=${p}`]) {
        // Post/redirect/get: the refusal is said on the step's own page.
        expect((await post(flow.browser, flow.uid, 'password', `csrf=${flow.csrf}&${body}`)).status).toBe(303);
        const page = await flow.browser.go(`/interaction/${flow.uid}`);
        expect({ status: page.status, says: page.text('.error') }).toEqual({ status: 400, says: SAYS.missingPassword });
        expect(page.hasForm('/password')).toBe(true);
        expectKapuPage(page);
      }
      expect({ flow: await flowRow(flow.uid), traces: await traces(account.id, account.username) }).toEqual(before);

      await flow.browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD });
      expect(flow.browser.exitUrl?.origin).toBe(RP_ORIGIN);
    });

    test('/factor: no factor, an array, or a factor the account lacks is a 400; /resend for a factor that sends nothing is a 400', async () => {
      const flow = await flowAtTotpStep('faktor.ferenc');
      const before = { flow: await flowRow(flow.uid), traces: await traces(flow.account.id, flow.account.username) };
      for (const body of ['', 'factor[]=totp&factor[]=email', 'factor=email', 'factor=dap']) {
        await expectErrorPage(await post(flow.browser, flow.uid, 'factor', `csrf=${flow.csrf}&${body}`), 400, SAYS.badRequest);
      }
      await expectErrorPage(await post(flow.browser, flow.uid, 'resend', `csrf=${flow.csrf}`), 400, SAYS.badRequest);
      expect({ flow: await flowRow(flow.uid), traces: await traces(flow.account.id, flow.account.username) }).toEqual(before);

      toMiddleOfStep(kapu.clock);
      await flow.browser.submit(flow.page, '/verify', { code: await appCode(flow.secret, kapu.clock) });
      expect(flow.browser.exitUrl?.origin).toBe(RP_ORIGIN);
    });

    test('/verify: no code, an array, an overlong or a non-numeric code is a 400 that costs no try; then the right code signs in', async () => {
      const flow = await flowAtTotpStep('ellenorzo.erika');
      const before = { flow: await flowRow(flow.uid), traces: await traces(flow.account.id, flow.account.username) };
      for (const body of ['', 'code[]=123456&code[]=654321', `code=${'1'.repeat(65)}`, 'code=abcdef']) {
        expect((await post(flow.browser, flow.uid, 'verify', `csrf=${flow.csrf}&${body}`)).status).toBe(303);
        const page = await flow.browser.go(`/interaction/${flow.uid}`);
        expect({ status: page.status, says: page.text('.error') }).toEqual({ status: 400, says: expect.stringContaining(SAYS.codeFormat.slice(0, 10)) });
        expect(page.hasForm('/verify')).toBe(true);
        expectKapuPage(page);
      }
      expect({ flow: await flowRow(flow.uid), traces: await traces(flow.account.id, flow.account.username) }).toEqual(before);

      toMiddleOfStep(kapu.clock);
      await flow.browser.submit(flow.page, '/verify', { code: await appCode(flow.secret, kapu.clock) });
      expect(flow.browser.exitUrl?.origin).toBe(RP_ORIGIN);
    });
  });

  describe('a form or JSON body that is not UTF-8 is a 400, never read with U+FFFD in its place (issue 15, item 6)', () => {
    /** A body with `bad` (percent-encoded text, or raw bytes) spliced in between the two parts. */
    const spliced = (before: string, bad: string | number[], after: string): Buffer =>
      Buffer.concat([Buffer.from(before), typeof bad === 'string' ? Buffer.from(bad) : Buffer.from(bad), Buffer.from(after)]);
    const NOT_UTF8: Array<[string, string | number[]]> = [
      ['%C3%28', '%C3%28'],
      ['%ED%A0%80', '%ED%A0%80'],
      ['a raw 0xFF byte', [0xff]],
    ];

    test.each(NOT_UTF8)('%s: kapu’s error page on the sign-in, portal, reset and lost-phone forms; nothing is counted or stored', async (_what, bad) => {
      const account = await kapu.account(`utf8.${Buffer.from(String(bad)).toString('hex').slice(0, 12)}`);
      const flow = await openFlow();
      const passwordPage = await flow.browser.submit(flow.page, '/method', {}, { name: 'method', value: 'legacy' });
      const before = { flow: await flowRow(flow.uid), traces: await traces(account.id, account.username) };
      const signIn = await post(flow.browser, flow.uid, 'password', spliced(`csrf=${flow.csrf}&username=${account.username}`, bad, `&password=${encodeURIComponent(PASSWORD)}`));
      await expectErrorPage(signIn, 400, SAYS.badRequest);

      const portal = new Browser(kapu.url);
      const csrf = (await portal.go('/account/reset')).value('input[name="csrf"]')!;
      for (const [path, fields] of [
        ['/account/reset', `&username=${account.username}`],
        ['/account/lost-phone', `&username=${account.username}&password=x&recovery_code=x`],
        ['/account/sign-in', ''],
      ] as const) {
        await expectErrorPage(await portal.post(path, spliced(`csrf=${csrf}${fields}&x=`, bad, '')), 400, SAYS.badRequest);
      }
      const device = await fetch(`${kapu.url}/api/device/v1/challenges/${randomUUID()}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: spliced('{"deviceId":"', typeof bad === 'string' ? [0xc3, 0x28] : bad, '","number":"123","pin":"123456","signature":"x"}'),
      });
      expect({ status: device.status, body: await device.json() }).toMatchObject({ status: 400, body: { error: 'invalid_json' } });

      expect({ flow: await flowRow(flow.uid), traces: await traces(account.id, account.username) }).toEqual(before);
      expect(await kapu.deps.db.selectFrom('pending_change').select('id').where('account_id', '=', account.id).execute()).toEqual([]);
      await flow.browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD });
      expect(flow.browser.exitUrl?.origin).toBe(RP_ORIGIN);
    });

    test('a JSON string with an escaped lone surrogate or NUL is refused by the device API as a bad field', async () => {
      for (const body of ['{"deviceId":"\\ud800","number":"123","pin":"123456"}', '{"deviceId":"a\\u0000b"}']) {
        const res = await fetch(`${kapu.url}/api/device/v1/challenges/${randomUUID()}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      }
    });

    test('a form declared in another charset, or sent compressed, is a 415', async () => {
      const flow = await openFlow();
      await expectErrorPage(await post(flow.browser, flow.uid, 'method', `csrf=${flow.csrf}&method=legacy`, 'application/x-www-form-urlencoded; charset=iso-8859-2'), 415, SAYS.badRequest);
      const res = await fetch(`${kapu.url}/interaction/${flow.uid}/method`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: 'x' });
      expect(res.status).toBe(415);
      expect((await flow.browser.submit(flow.page, '/method', {}, { name: 'method', value: 'legacy' })).hasForm('/password')).toBe(true);
    });
  });

  test('odd query parameters on an interaction page are ignored: the page renders as usual', async () => {
    const { browser, uid } = await openFlow();
    const page = await browser.go(`/interaction/${uid}?lang[]=en&notice[]=sent&notice=<script>`);
    expect(page.status).toBe(200);
    expect(page.doc.querySelector('html')?.getAttribute('lang')).toBe('hu');
    expect(page.hasForm('/method')).toBe(true);
    expect(page.html).not.toContain('<script>');
    expectKapuPage(page);
  });

  test("malformed authorization requests get kapu's error page from the provider, without internals", async () => {
    const browser = new Browser(kapu.url);
    for (const query of ['client_id=nobody&response_type=code&scope=openid', 'client_id=a&client_id=b', `client_id=${'x'.repeat(5000)}`]) {
      const page = await browser.go(`/auth?${query}`);
      expect(page.status).toBe(400);
      expect(page.text('h1')).toBe('Hiba történt');
      // The request id on the page is the one in the response, for a support call.
      expect(page.visibleText).toContain(page.headers.get('x-request-id'));
      expectKapuPage(page);
    }
  });

  test('a request id that is not sane is replaced, never echoed', async () => {
    const res = await fetch(`${kapu.url}/healthz`, { headers: { 'X-Request-Id': '<script>alert(1)</script>' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('clients that accept JSON get a JSON error body', () => {
    test.each([
      ['an unknown interaction', 'POST', '/interaction/nope/method', 400, 'session_expired'],
      ['an unknown path', 'GET', '/no-such-page', 404, 'not_found'],
      ['an unknown path under kapu’s own routes', 'GET', '/interaction/nope/nothing-here', 404, 'not_found'],
    ])('%s', async (_what, method, path, status, error) => {
      const res = await fetch(`${kapu.url}${path}`, {
        method,
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        ...(method === 'POST' && { body: 'csrf=x' }),
      });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ error, request_id: expect.any(String) });
    });
  });

  test("GET of an unknown path is a 404 with kapu's page", async () => {
    for (const path of ['/no-such-page', '/.well-known/no-such-document', '/interaction/nope/nothing-here', '/assets/missing.css']) {
      await expectErrorPage(await fetch(`${kapu.url}${path}`), 404, SAYS.notFound);
    }
  });

  describe('health', () => {
    test('/healthz says the process is alive and /readyz that the database answers', async () => {
      const alive = await fetch(`${kapu.url}/healthz`);
      expect(alive.status).toBe(200);
      expect(await alive.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${kapu.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
      expect(ready.headers.get('cache-control')).toBe('no-store');
    });

    test('/readyz is 503 once the database is gone, while /healthz stays 200', async () => {
      // A kapu of its own: its database is closed under it, and it is not used for anything else.
      const doomed = await startTestKapu();
      try {
        await doomed.deps.db.destroy();
        const ready = await fetch(`${doomed.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ status: 'unavailable', database: 'unreachable' });
        expect((await fetch(`${doomed.url}/healthz`)).status).toBe(200);
      } finally {
        await doomed.close();
      }
    });
  });
});
