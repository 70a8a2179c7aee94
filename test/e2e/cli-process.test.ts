/**
 * The admin CLI as the real process an operator starts (`node src/cli/main.ts`): argv, piped
 * stdin, stdout, stderr and exit codes. What each command does is tested in-process
 * (test/integration/cli*.test.ts); this shows the process wiring once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { spawnCli } from '../helpers/cli-process.ts';
import { freshDatabase, migratedDataDir } from '../helpers/database.ts';
import { testEnv } from '../helpers/env.ts';

const PASSWORD = 'Titkos jelszó 42';

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const database = await freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'kapu-cli-proc-'));
  // Keys given, as an operator would: a generated key's warning would be the only stderr.
  const keys = { COOKIE_KEYS: randomBytes(32).toString('base64url'), ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` };
  if (database.url) {
    env = testEnv({ NODE_ENV: 'test', DATABASE_URL: database.url, DATABASE_POOL_SIZE: '2', ...keys });
  } else {
    env = testEnv({ NODE_ENV: 'test', DATA_DIR: dir, ...keys });
    await migratedDataDir(dir);
  }
  cleanup = async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  };
});

afterAll(async () => {
  await cleanup();
});

test('reads the password from piped stdin, lists accounts, and exits with the right codes', async () => {
  const add = await spawnCli(['account', 'add', '--username', 'nagy.bela', '--name', 'Nagy Béla', '--email', 'bela@example.hu'], env, `${PASSWORD}\n`);
  expect(add).toEqual({ code: 0, stdout: expect.stringMatching(/^[0-9a-f-]{36}\n$/), stderr: '' });

  const list = await spawnCli(['account', 'list'], env);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/nagy\.bela\s+Nagy Béla\s+bela@example\.hu/);

  const unknown = await spawnCli(['nincs-ilyen'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^kapu: unknown command/);
  expect(unknown.stderr).not.toMatch(/\n\s+at /); // no stack trace

  // What the process stored: the password from stdin, as the CLI's own checker reads it.
  const deps = await buildDeps(loadConfig({ ...env, LOG_LEVEL: 'silent' }), { log: createLogger('silent') });
  try {
    const row = await deps.db.selectFrom('account').select('password_hash').where('username', '=', 'nagy.bela').executeTakeFirstOrThrow();
    expect((await deps.passwords.verify(row.password_hash, PASSWORD)).ok).toBe(true);
  } finally {
    await closeDeps(deps);
  }
  // Four openings of the embedded database (three processes and this one), each seconds long on
  // a busy 2-core machine: a limit for a hung process, not a speed target.
}, 180_000);
