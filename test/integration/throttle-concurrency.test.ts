/**
 * Issue 16, item 1: sign-in steps racing on the same throttle counters (one username tried in
 * several tabs, one address shared by many citizens) never deadlock: the throttle's own
 * statements (the guess counted on its own, then a right answer's bookkeeping in a unit of work),
 * and the password step as the sign-in core takes it (the guess counted in the read of the
 * sign-in, the bookkeeping in the statement that ends the sign-in or moves it on, after the
 * flow's lock). Postgres only: PGlite has one connection, where nothing can wait.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ThrottleRepository } from '../../src/db/repositories/throttle.ts';
import type { Database } from '../../src/db/schema.ts';
import { ipKey, userKey } from '../../src/security/throttle.ts';
import { type CoreHarness, FROM, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';

const onPostgres = process.env['DATABASE_URL'] ? describe : describe.skip;

onPostgres('throttle counters under racing sign-in steps (Postgres)', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore({ env: { DATABASE_POOL_SIZE: '10' } });
  });
  afterAll(async () => {
    await core?.close();
  });

  /** One right password: counted, then settled in a unit of work. The error it met, if any. */
  async function rightPassword(username: string, ip: string): Promise<string | null> {
    const { throttle, uow } = core.deps;
    try {
      const attempt = await throttle.password(uow.repos.throttle, username, ip);
      if (attempt) await uow.transaction((r) => throttle.succeeded(r.throttle, attempt));
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** `rounds` rounds of eight steps at once, the i-th on `usernames[i % n]`; the errors met. */
  async function race(usernames: string[], ip: string, rounds: number): Promise<string[]> {
    const errors: string[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const met = await Promise.all(Array.from({ length: 8 }, (_, i) => rightPassword(usernames[i % usernames.length]!, ip)));
      errors.push(...met.filter((e) => e !== null));
    }
    return errors;
  }

  async function counts(keys: string[]) {
    return core.deps.db.selectFrom('auth_throttle').select(['key', 'failures']).where('key', 'in', keys).orderBy('key').execute();
  }

  test('eighty right passwords, eight at a time, for one username from one address: none fails, none is left counted', async () => {
    const errors = await race(['egy.fiok'], '203.0.113.50', 10);
    expect(errors).toEqual([]);
    // The username's count is cleared; the address took back every guess (refused ones too).
    expect(await counts([userKey('egy.fiok'), ipKey('203.0.113.50')])).toEqual([{ key: ipKey('203.0.113.50'), failures: 0 }]);
  });

  test('eighty right passwords, eight at a time, for four usernames from one address: none fails, none is left counted', async () => {
    const names = ['negy.egy', 'negy.ketto', 'negy.harom', 'negy.negy'];
    const errors = await race(names, '203.0.113.51', 10);
    expect(errors).toEqual([]);
    expect(await counts([...names.map(userKey), ipKey('203.0.113.51')])).toEqual([{ key: ipKey('203.0.113.51'), failures: 0 }]);
  });

  /** One sign-in at the RP taken through its password step by the core: the outcome (kind, and a refusal's reason), or the error it met. */
  async function passwordStep(username: string, method: string, ip: string): Promise<string> {
    const { signIns } = core.deps;
    const who = { ...FROM, ip };
    try {
      const uid = await core.interaction();
      await signIns.chooseMethod(uid, who, method);
      const outcome = await signIns.password(uid, who, { username, password: PASSWORD });
      return outcome.kind === 'refused' ? `refused:${outcome.refusal}` : outcome.kind;
    } catch (err) {
      return (err as Error).message;
    }
  }

  test('right passwords racing through the sign-in core, eight at a time, on one address: the guess counted in the read of the sign-in, the bookkeeping in the statement that ends it or moves it on — every step gets through, none is left counted', async () => {
    await core.account('verseny.vera');
    await core.account('verseny.viktor', ['email']);
    const ip = '203.0.113.52';
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round += 1) {
      const steps = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? passwordStep('verseny.vera', 'legacy', ip) : passwordStep('verseny.viktor', 'email', ip)));
      outcomes.push(...(await Promise.all(steps)));
    }
    // The password-only account signs in; the other goes on to its code (refused by the hourly cap once it is spent).
    expect(outcomes.filter((_, i) => i % 2 === 0)).toEqual(Array(20).fill('finished'));
    expect(outcomes.filter((_, i) => i % 2 === 1).every((o) => o === 'advanced' || o === 'refused:rate_limited')).toBe(true);
    expect(await counts([userKey('verseny.vera'), userKey('verseny.viktor'), ipKey(ip)])).toEqual([{ key: ipKey(ip), failures: 0 }]);
  });

  test('housekeeping skips a counter a sign-in step holds (it neither waits for the step nor makes it wait), and takes it next time', async () => {
    const { throttle, uow, config } = core.deps;
    const attempt = (await throttle.password(uow.repos.throttle, 'regi.probalkozo', '203.0.113.52'))!;
    core.clock.advance(2 * 24 * 3600);
    const dayAgo = new Date(core.clock.now().getTime() - 24 * 3600_000);
    // Another replica's housekeeping, on a connection that gives up on a lock after 3 s.
    const url = config.database.kind === 'postgres' ? config.database.url : '';
    const replica = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1, options: '-c lock_timeout=3000' }) }) });
    try {
      const housekeeping = new ThrottleRepository(replica);
      // A step that holds the address's counter (its bookkeeping, not yet committed).
      const deletedMeanwhile = await uow.transaction(async (r) => {
        await r.throttle.settle([], attempt.counted.filter((c) => c.key === ipKey('203.0.113.52')));
        return housekeeping.deleteStale(dayAgo);
      });
      expect(deletedMeanwhile).toBeGreaterThanOrEqual(1);
      expect(await counts([userKey('regi.probalkozo'), ipKey('203.0.113.52')])).toEqual([{ key: ipKey('203.0.113.52'), failures: 0 }]);
      await housekeeping.deleteStale(dayAgo);
      expect(await counts([ipKey('203.0.113.52')])).toEqual([]);
    } finally {
      await replica.destroy();
    }
  });
});
