/**
 * Issue 9, item 9: the sign-in session at kapu (what lets an RP sign a citizen in again without
 * a password) ends after SESSION_IDLE_MINUTES without use (30) and SESSION_HOURS after the
 * sign-in in any case (12); sign-out at kapu ends it on every replica.
 */
import { loadConfig } from '../../src/config/index.ts';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { startReplicas } from '../helpers/replicas.ts';

const MINUTE = 60;

/** What the RP gets back from a silent sign-in (prompt=none) in this browser. */
async function silentSignIn(kapu: TestKapu, rp: Awaited<ReturnType<TestKapu['client']>>['rp'], browser: Browser, base = kapu.url): Promise<string> {
  browser.exitUrl = undefined;
  const url = new URL((await beginSignIn(rp, { prompt: 'none' })).url);
  await browser.go(new URL(`${url.pathname}${url.search}`, base));
  const exit = browser.exitUrl!;
  return exit.searchParams.get('code') ? 'signed in' : exit.searchParams.get('error')!;
}

describe('the sign-in session at kapu', () => {
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  let clientId: string;
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp, clientId } = await kapu.client());
    await kapu.account('munkamenet.mark');
  });
  afterAll(async () => {
    await kapu?.close();
  });

  async function signedIn(): Promise<Browser> {
    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', 'munkamenet.mark');
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
    return browser;
  }

  const silently = (browser: Browser, base = kapu.url) => silentSignIn(kapu, rp, browser, base);

  test('ends after 30 minutes without use; each use keeps it alive', async () => {
    const browser = await signedIn();
    kapu.clock.advance(29 * MINUTE);
    expect(await silently(browser)).toBe('signed in');
    kapu.clock.advance(29 * MINUTE);
    expect(await silently(browser)).toBe('signed in');
    kapu.clock.advance(31 * MINUTE);
    expect(await silently(browser)).toBe('login_required');
  });

  test('sign-out at kapu ends it', async () => {
    const browser = await signedIn();
    const confirm = await browser.go(`/session/end?client_id=${clientId}`);
    await browser.submit(confirm, '/session/end/confirm', {}, { name: 'logout', value: 'yes' });
    expect(await silently(browser)).toBe('login_required');
  });

  (process.env['DATABASE_URL'] ? test : test.skip)('sign-out on one replica ends it on every replica', async () => {
    const cluster = await startReplicas(kapu, 2);
    try {
      const browser = new Browser(cluster.url);
      cluster.routeTo(0);
      const start = (await beginSignIn(rp)).url;
      await signInWithPassword(browser, new URL(`${start.pathname}${start.search}`, cluster.url), 'legacy', 'munkamenet.mark');
      expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
      cluster.routeTo(1);
      expect(await silently(browser, cluster.url)).toBe('signed in');
      const confirm = await browser.go(`/session/end?client_id=${clientId}`);
      await browser.submit(confirm, '/session/end/confirm', {}, { name: 'logout', value: 'yes' });
      cluster.routeTo(0);
      expect(await silently(browser, cluster.url)).toBe('login_required');
    } finally {
      await cluster.close();
    }
  });
});

describe('the sign-in session at kapu, kept busy', () => {
  // A kapu of its own: its clock has not been moved before the sign-in (the session's start is
  // the provider's sign-in time; kapu's clock is real time plus what the test added).
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp } = await kapu.client());
    await kapu.account('munkamenet.mark');
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('ends 12 hours after the sign-in however busy it is', async () => {
    const browser = new Browser(kapu.url);
    await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', 'munkamenet.mark');
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
    for (let minutes = 25; minutes < 12 * 60; minutes += 25) {
      kapu.clock.advance(25 * MINUTE);
      expect([minutes, await silentSignIn(kapu, rp, browser)]).toEqual([minutes, 'signed in']);
    }
    kapu.clock.advance(25 * MINUTE);
    expect(await silentSignIn(kapu, rp, browser)).toBe('login_required');
  });

});

describe('session settings', () => {
  test.each([
    ['SESSION_IDLE_MINUTES', '4', /^SESSION_IDLE_MINUTES: must be at least 5/],
    ['SESSION_IDLE_MINUTES', '121', /^SESSION_IDLE_MINUTES: must be at most 120/],
    ['SESSION_HOURS', '25', /^SESSION_HOURS: must be at most 24/],
  ])('%s=%s is refused', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  test('defaults: 30 minutes idle, 12 hours in all', () => {
    expect(loadConfig({}).session).toEqual({ idleSeconds: 30 * MINUTE, lifetimeSeconds: 12 * 3600 });
  });
});
