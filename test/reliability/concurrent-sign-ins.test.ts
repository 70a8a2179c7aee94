/**
 * Issue 16, item 1, through the pages: citizens behind one address (one office, one carrier's
 * NAT) sign in at once, several on the same username, right and wrong passwords mixed. Every
 * step gets its answer (a sign-in, or the one refusal for a wrong password or a lock), never a
 * 5xx, and the log holds no deadlock or failed request. Postgres only: PGlite has one
 * connection, where nothing can wait. The rule itself is pinned at the repository level
 * (test/integration/throttle-concurrency.test.ts).
 */
import { Browser } from '../helpers/browser.ts';
import { captureLog } from '../helpers/captured-log.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

const onPostgres = process.env['DATABASE_URL'] ? describe : describe.skip;

onPostgres('concurrent sign-ins on shared usernames from one address (Postgres)', () => {
  const captured = captureLog();
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { DATABASE_POOL_SIZE: '10' }, overrides: { log: captured.log } });
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
  });

  /** One password-only sign-in; its last page's status (0: it went on to the RP). */
  async function signIn(username: string, password: string): Promise<number> {
    const browser = new Browser(kapu.url);
    const page = await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', username, password);
    return browser.exitUrl ? 0 : page.status;
  }

  /** `rounds` rounds of eight sign-ins at once, the i-th as `usernames[i % n]`, every third with a wrong password. */
  async function race(usernames: string[], rounds: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      statuses.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => signIn(usernames[i % usernames.length]!, i % 3 === 2 ? 'rossz jelszó' : PASSWORD)))));
    }
    return statuses;
  }

  function troubleInLog(): unknown[] {
    return captured.lines.filter((l) => Number(l['level']) >= 50 || /deadlock/i.test(JSON.stringify(l)));
  }

  test.each([
    ['one username', ['kozos.kati']],
    ['four usernames', ['negyes.egy', 'negyes.ketto', 'negyes.harom', 'negyes.negy']],
  ])('eight at a time on %s: every step answered, none with a 5xx, no deadlock in the log', async (_what, usernames) => {
    for (const username of usernames) await kapu.account(username);
    const statuses = await race(usernames, 3);
    // In (0), or the one refusal for a wrong password or a locked username (401).
    expect(statuses.filter((s) => s !== 0 && s !== 401)).toEqual([]);
    expect(statuses.filter((s) => s === 0).length).toBeGreaterThan(0);
    expect(troubleInLog()).toEqual([]);
  });
});
