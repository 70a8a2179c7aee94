/**
 * Issue 16, item 1: sign-in steps racing on the same throttle counters (one username tried in
 * several tabs, one address shared by many citizens) never deadlock. Each step is taken as the
 * sign-in core takes it: the guess counted on its own, then a right answer's bookkeeping in the
 * step's unit of work. Postgres only: PGlite has one connection, where nothing can wait.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ThrottleRepository } from '../../src/db/repositories/throttle.ts';
import type { Database } from '../../src/db/schema.ts';
import { ipKey, userKey } from '../../src/security/throttle.ts';
import { type CoreHarness, startCore } from '../helpers/core.ts';

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
