/**
 * kapu as an operator runs it: the real process, started and stopped with signals; and
 * replicas that start at the same moment against one fresh Postgres database.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/index.ts';
import { openDatabase } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { freshDatabase, migratedDataDir } from '../helpers/database.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('SIGTERM stops a running kapu gracefully: it says so and exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kapu-proc-'));
  await migratedDataDir(dataDir);
  try {
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      // The drain before the port closes is tested on its own (test/e2e/drain.test.ts, test/reliability).
      env: { PATH: process.env['PATH'], PORT: '0', METRICS_PORT: '0', DATA_DIR: dataDir, DEMO: 'false', LOG_LEVEL: 'info', SHUTDOWN_GRACE_SECONDS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(`exit code ${code}, signal ${signal}`)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('kapu listening')) resolve();
      });
      child.on('exit', () => reject(new Error(`kapu exited before listening: ${stdout}`)));
    });
    child.kill('SIGTERM');
    const how = await exited;
    expect({ how, stderr }).toEqual({ how: 'exit code 0, signal null', stderr: '' });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

(process.env['DATABASE_URL'] ? test : test.skip)('replicas starting together apply each migration exactly once', async () => {
  // An empty database: migrating it is what this test watches.
  const database = await freshDatabase({ migrated: false });
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url! });
  const replicas = await Promise.all([1, 2, 3].map(() => openDatabase(config.database, createLogger('silent'))));
  try {
    const applied = await Promise.all(replicas.map(({ db }) => migrateToLatest(db)));
    const all = applied.flat();
    expect(new Set(all).size).toBe(all.length); // nobody applied a migration twice
    const { rows } = await sql<{ n: string }>`select count(*) as n from kysely_migration`.execute(replicas[0]!.db);
    expect(Number(rows[0]!.n)).toBe(all.length);
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
    await database.drop();
  }
});

test('the real process started with PORT=abc exits non-zero with one line on stderr naming PORT', async () => {
  const child = spawn(`${ROOT}node_modules/.bin/node`, ['src/main.ts'], {
    cwd: ROOT,
    // Only what the process needs: no DATABASE_URL or other settings from the test's own environment.
    env: { PATH: process.env['PATH'] ?? '', PORT: 'abc' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });

  expect(code).not.toBe(0);
  expect(code).not.toBeNull();
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/\bPORT\b/);
  expect(stdout).toBe('');
});
