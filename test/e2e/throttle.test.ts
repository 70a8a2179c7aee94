import { Browser } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MAX_CONSECUTIVE_FAILURES, Throttle, factorKey, userKey } from '../../src/security/throttle.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';

describe('throttling of password guesses', () => {
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
  });

  async function attempt(username: string, password: string) {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, 'legacy', username, password);
    return { page, signedIn: browser.exitUrl !== undefined };
  }

  test('after five wrong passwords even the right one is refused, with the same message, until the lock passes', async () => {
    await kapu.account('szabo.peter');
    const wrong = [];
    for (let i = 0; i < 5; i += 1) wrong.push(await attempt('szabo.peter', 'wrong password'));
    const whileLocked = await attempt('szabo.peter', PASSWORD);
    expect(whileLocked.signedIn).toBe(false);
    expect(whileLocked.page.status).toBe(wrong[0]!.page.status);
    expect(whileLocked.page.text('.error')).toBe(wrong[0]!.page.text('.error'));

    kapu.clock.advance(31);
    expect((await attempt('szabo.peter', PASSWORD)).signedIn).toBe(true);
  });

  test('an unknown username is locked exactly like a real one, so a lock reveals nothing', async () => {
    await kapu.account('toth.eva');
    const known = [];
    const unknown = [];
    for (let i = 0; i < 6; i += 1) {
      known.push(await attempt('toth.eva', 'wrong password'));
      unknown.push(await attempt('senki.sem', 'wrong password'));
    }
    expect(unknown.map((a) => a.page.status)).toEqual(known.map((a) => a.page.status));
    expect(unknown.map((a) => a.page.text('.error'))).toEqual(known.map((a) => a.page.text('.error')));
  });

  test('a successful sign-in clears the count: earlier failures do not add up to a lock later', async () => {
    await kapu.account('nagy.jozsef');
    for (let i = 0; i < 4; i += 1) await attempt('nagy.jozsef', 'wrong password');
    expect((await attempt('nagy.jozsef', PASSWORD)).signedIn).toBe(true);
    for (let i = 0; i < 4; i += 1) await attempt('nagy.jozsef', 'wrong password');
    expect((await attempt('nagy.jozsef', PASSWORD)).signedIn).toBe(true);
  });

  test('a burst of parallel wrong passwords is counted one by one: only five are ever checked', async () => {
    const account = await kapu.account('gyors.gabor');
    const pages = await Promise.all(Array.from({ length: 30 }, () => attempt('gyors.gabor', 'wrong password')));
    expect(new Set(pages.map((p) => p.page.status))).toEqual(new Set([401]));
    const events = await kapu.deps.repos.audit.list({ accountId: account.id, type: 'signin.password_failed', limit: 100 });
    // Refused attempts never reach the account lookup, so only checked ones carry its id.
    expect(events.length).toBe(5);
  });

  test(`${MAX_CONSECUTIVE_FAILURES} failures in a row lock the username for a day (or until an operator unlocks it), days of quiet or not`, async () => {
    // A real account: counts of made-up usernames are dropped after a quiet day (they would
    // otherwise let a sprayer grow the table), real accounts' failures in a row are kept.
    await kapu.account('kiss.bela');
    const throttle = new Throttle(kapu.clock);
    const repo = kapu.deps.repos.throttle;
    for (let i = 0; i < MAX_CONSECUTIVE_FAILURES; i += 1) {
      expect(await throttle.password(repo, 'kiss.bela', '203.0.113.7')).not.toBeNull();
      // Each lock is waited out, as a patient attacker would: only the consecutive cap remains.
      kapu.clock.advance(16 * 60);
      if (i === 50) {
        // A quiet couple of days, with housekeeping: the count of failures in a row survives.
        kapu.clock.advance(2 * 24 * 3600);
        await kapu.deps.maintenance.runOnce();
      }
    }
    // Most of the day the cap locks for (it ends by itself: test/e2e/lockout.test.ts).
    kapu.clock.advance(23 * 3600);
    await kapu.deps.maintenance.runOnce();
    expect(await throttle.password(repo, 'kiss.bela', '203.0.113.8')).toBeNull();
    expect(await throttle.lockedUntil(repo, [userKey('kiss.bela')])).not.toBeNull();
    await throttle.unlock(repo, 'kiss.bela');
    expect(await throttle.lockedUntil(repo, [userKey('kiss.bela')])).toBeNull();
  });

  async function failuresOn(key: string): Promise<number> {
    const row = await kapu.deps.db.selectFrom('auth_throttle').select('failures').where('key', '=', key).executeTakeFirst();
    return row?.failures ?? 0;
  }

  test('a right second factor is no failure: a shared address keeps no count of successful sign-ins', async () => {
    const { totpSecret } = await kapu.account('sikeres.sandor', ['totp']);
    const before = await failuresOn('ip:127.0.0.1');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await signInWithPassword(browser, signIn.url, 'totp', 'sikeres.sandor');
    toMiddleOfStep(kapu.clock);
    await browser.submit(page, '/verify', { code: await appCode(totpSecret!, kapu.clock) });
    expect(browser.exitUrl).toBeDefined();
    expect(await failuresOn('ip:127.0.0.1')).toBe(before);
  });

  test('the right password does not wipe the count of wrong second-factor answers', async () => {
    const account = await kapu.account('ketszeres.karoly', ['totp']);
    const throttle = new Throttle(kapu.clock);
    const repo = kapu.deps.repos.throttle;
    for (let i = 0; i < 3; i += 1) await throttle.factor(repo, account.id, '198.51.100.9');
    // "Ügyfélkapuval" with the right password: on to the app code (never in with the password alone).
    const { page, signedIn } = await attempt('ketszeres.karoly', PASSWORD);
    expect({ signedIn, asksForCode: page.hasForm('/verify') }).toEqual({ signedIn: false, asksForCode: true });
    expect(await failuresOn(factorKey(account.id))).toBe(3);
  });
});
