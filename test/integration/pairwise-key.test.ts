/**
 * The key pairwise `sub` values are derived with (issue 15, item 8) lives in the database: the
 * first process to start makes it, every other one (replicas starting at the same moment
 * included) reads that one, and a restart reads it back. So an RP sees one `sub` per citizen
 * whichever replica answers, before and after a deployment.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { PairwiseSubjects } from '../../src/oidc/pairwise.ts';
import { freshDatabase, migratedDataDir } from '../helpers/database.ts';

let dataDir: string;
let database: Awaited<ReturnType<typeof freshDatabase>>;
const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kapu-pairwise-'));
  database = await freshDatabase();
  // On PGlite, the DATA_DIR already holds the migrated database, as after a first start.
  if (!database.url) await migratedDataDir(dataDir);
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  await database.drop();
});

/** kapu's dependencies on this test's data, as a process starting on it builds them. */
function open(): Promise<Deps> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    COOKIE_KEYS: 'c'.repeat(32),
    ENCRYPTION_KEYS,
    ...(database.url && { DATABASE_URL: database.url }),
  });
  return buildDeps(config, { log: createLogger('silent') });
}

test('processes starting together agree on one key, a restart reads it back, and it is stored sealed', async () => {
  let deps = await open();
  let sub: string;
  try {
    const starting = await Promise.all([1, 2, 3].map(() => PairwiseSubjects.load(deps)));
    const subs = starting.map((p) => p.subject('account-1', 'ado.example.hu'));
    sub = subs[0]!;
    expect(new Set(subs)).toEqual(new Set([sub]));
    const rows = await deps.db.selectFrom('pairwise_key').select(['id', 'key_sealed']).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key_sealed).toMatch(/^v1\.k1\./);
  } finally {
    await closeDeps(deps);
  }

  deps = await open();
  try {
    expect((await PairwiseSubjects.load(deps)).subject('account-1', 'ado.example.hu')).toBe(sub);
  } finally {
    await closeDeps(deps);
  }
});
