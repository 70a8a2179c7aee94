/**
 * Bulk import speed: `account import` as an operator runs it (the real CLI process) on a fresh
 * database of the local Postgres, with a generated CSV of citizens: half of them bring an
 * argon2id hash exported from an old system, half have none (they set a password with
 * "forgotten password"). Reports accounts per minute of wall time (target ≥ 10,000).
 *
 *   BENCH_ONLY=import npm run bench
 *   BENCH_IMPORT_N=50000 BENCH_ONLY=import npm run bench
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ImportBench {
  accounts: number;
  seconds: number;
  perMinute: number;
}

function run(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', ...argv], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Imports `count` generated accounts into `databaseUrl` with the CLI; the second run checks idempotency. */
export async function benchImport(databaseUrl: string, count: number): Promise<ImportBench> {
  const dir = mkdtempSync(join(tmpdir(), 'kapu-bench-import-'));
  try {
    // One real exported hash shared by the rows that bring one (hashing 10,000 here would only
    // measure argon2 in the bench, not the import).
    const hash = await argon2.hash('régi jelszó', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const lines = ['username,name,email,password_hash'];
    for (let i = 0; i < count; i += 1) {
      lines.push(`polgar.${i},"Polgár ${i}, Béla",polgar.${i}@example.hu,${i % 2 === 0 ? `"${hash}"` : ''}`);
    }
    const file = join(dir, 'accounts.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const env = {
      NODE_ENV: 'development',
      DATABASE_URL: databaseUrl,
      COOKIE_KEYS: randomBytes(32).toString('base64url'),
      ENCRYPTION_KEYS: `b1:${randomBytes(32).toString('base64')}`,
      DEMO: 'false',
    };
    // Migrate first: the import's time is the import's.
    const migrated = await run(['migrate'], env);
    if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
    const started = performance.now();
    const first = await run(['account', 'import', file, '--json'], env);
    const seconds = (performance.now() - started) / 1000;
    const report = JSON.parse(first.stdout) as { imported: number; rejected: unknown[] };
    if (first.code !== 0 || report.imported !== count) throw new Error(`import: exit ${first.code}, ${first.stdout.slice(0, 300)} ${first.stderr.slice(0, 300)}`);
    const again = JSON.parse((await run(['account', 'import', file, '--json'], env)).stdout) as { imported: number; existing: number };
    if (again.imported !== 0 || again.existing !== count) throw new Error(`re-run imported ${again.imported}, found ${again.existing}`);
    return { accounts: count, seconds, perMinute: (count / seconds) * 60 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
