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
import { loadConfig } from '../src/config/index.ts';
import { openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { freshDatabase } from './helpers/kapu.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('SIGTERM stops a running kapu gracefully: it says so and exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kapu-proc-'));
  try {
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'], PORT: '0', METRICS_PORT: '0', DATA_DIR: dataDir, DEMO: 'false', LOG_LEVEL: 'info' },
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
  const database = await freshDatabase();
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
