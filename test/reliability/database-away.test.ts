/**
 * Issue 16, item 2: Postgres away. kapu reaches its database through a proxy the test cuts and
 * restores (as a database that stops and comes back). While it is cut, discovery and JWKS answer
 * from the keys kapu holds; every other request gets 503 with Retry-After and a page (JSON for
 * an RP's endpoints) that says to try again, and is logged with its cause; a sign-in started
 * before the cut goes on where it was once the database is back, with nobody restarting kapu.
 * Postgres only: the embedded database cannot go away.
 */
import { Browser, type Page } from '../helpers/browser.ts';
import { captureLog } from '../helpers/captured-log.ts';
import { DbProxy } from '../helpers/db-proxy.ts';
import { RP_REDIRECT, type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';

const DATABASE_URL = process.env['DATABASE_URL'];
/** What a browser asks for: a page (the provider answers JSON to anyone who does not say so). */
const ACCEPT_HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const onPostgres = DATABASE_URL ? describe : describe.skip;

onPostgres('the database away (Postgres, through a proxy the test cuts)', () => {
  const captured = captureLog();
  let proxy: DbProxy;
  let kapu: TestKapu;
  let client: Awaited<ReturnType<TestKapu['client']>>;
  beforeAll(async () => {
    proxy = await DbProxy.start(DATABASE_URL!);
    kapu = await startTestKapu({ reach: (url) => proxy.through(url), overrides: { log: captured.log } });
    client = await kapu.client();
  });
  afterAll(async () => {
    proxy?.restore();
    await kapu?.close();
    await proxy?.close();
  });

  /** The page a citizen gets while the database is away. */
  function expectTryAgain(page: Page, heading: string) {
    expect({ status: page.status, retryAfter: page.headers.get('retry-after'), heading: page.text('h1'), setCookie: page.headers.get('set-cookie') }).toEqual({
      status: 503,
      retryAfter: '30',
      heading,
      setCookie: null,
    });
  }

  test('a sign-in started before the cut finishes after it; meanwhile discovery and JWKS answer and the rest says to try again', async () => {
    const { totpSecret } = await kapu.account('kiesett.kornelia', ['totp']);
    const browser = new Browser(kapu.url, ACCEPT_HTML);
    const signIn = await beginSignIn(client.rp);
    const factorPage = await signInWithPassword(browser, signIn.url, 'totp', 'kiesett.kornelia');
    expect(factorPage.hasForm('/verify')).toBe(true);
    const loggedBefore = captured.lines.length;

    proxy.cut();
    // Discovery and the keys: from what kapu holds.
    const discovery = await fetch(`${kapu.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const jwks = await fetch(`${kapu.url}/jwks`);
    expect({ status: jwks.status, keys: ((await jwks.json()) as { keys: unknown[] }).keys.length > 0 }).toEqual({ status: 200, keys: true });

    // A new sign-in at /auth (English, as the browser asks), and the sign-in in progress: its page, its form.
    expectTryAgain(await new Browser(kapu.url, { ...ACCEPT_HTML, 'accept-language': 'en' }).go((await beginSignIn(client.rp)).url), 'The service is temporarily unavailable');
    const page = await browser.go(factorPage.url);
    expectTryAgain(page, 'A szolgáltatás átmenetileg nem érhető el');
    expect(page.doc.querySelector('a.button')?.getAttribute('href')).toBe(factorPage.url.pathname);
    toMiddleOfStep(kapu.clock);
    const posted = await browser.submit(factorPage, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    expectTryAgain(posted, 'A szolgáltatás átmenetileg nem érhető el');
    expect(posted.doc.querySelector('a.button')?.getAttribute('href')).toBe(factorPage.url.pathname);

    // An RP's code exchange: JSON, OAuth's temporarily_unavailable.
    const token = await fetch(`${kapu.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nincs-ilyen', redirect_uri: RP_REDIRECT }).toString(),
    });
    expect({ status: token.status, retryAfter: token.headers.get('retry-after'), body: (await token.json()) as unknown }).toEqual({
      status: 503,
      retryAfter: '30',
      body: expect.objectContaining({ error: 'temporarily_unavailable' }),
    });
    expect((await fetch(`${kapu.url}/readyz`)).status).toBe(503);

    // Every one of those 503s is in the log with its cause; nothing was a 500.
    const during = captured.lines.slice(loggedBefore);
    const answered = during.filter((l) => l['msg'] === 'database unavailable: answered 503');
    expect(answered.length).toBeGreaterThanOrEqual(4);
    for (const line of answered) expect(line['err']).toEqual(expect.objectContaining({ message: expect.any(String) }));
    expect(during.filter((l) => l['msg'] === 'request' && Number(l['status']) >= 500 && l['status'] !== 503)).toEqual([]);

    proxy.restore();
    // kapu comes back by itself: "try again" shows the step the citizen was at, and it finishes.
    const back = await browser.go(factorPage.url);
    expect({ status: back.status, asksForCode: back.hasForm('/verify') }).toEqual({ status: 200, asksForCode: true });
    toMiddleOfStep(kapu.clock);
    await browser.submit(back, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
    const tokens = await signIn.finish(browser.exitUrl!);
    expect(tokens.claims()?.['amr']).toEqual(['pwd', 'otp', 'mfa']);
  });
});
