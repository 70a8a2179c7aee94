/**
 * Issue 9, item 2: a request during start-up is answered. The real process, as an operator runs
 * it: from the moment its port opens until it exits, /healthz and /readyz answer (none hangs:
 * an answer well within a second on a quiet machine; the test allows a loaded CI machine five),
 * and any other request gets 503 with Retry-After until kapu is ready. On Postgres the
 * test holds the migration lock, so kapu is kept starting for as long as the test likes. The
 * embedded database blocks the event loop while it opens and migrates a new folder (seconds),
 * so kapu opens its port only after that: until then connections are refused at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freshDatabase } from '../helpers/kapu.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Kysely's migration lock on Postgres (kysely/dist/dialect/postgres/postgres-adapter.js). */
const MIGRATION_LOCK = '3853314791062309107';

interface Probe {
  path: string;
  status: number | 'refused' | 'no answer';
  ms: number;
  retryAfter: string | null;
  body: string;
}

/**
 * How long a probe waits before it counts as no answer: what tells an answering process from a
 * hung one even on a loaded CI machine (speed is the bench's business, not a test's).
 */
const PATIENCE_MS = 5000;

async function probe(port: number, path: string): Promise<Probe> {
  const started = Date.now();
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(PATIENCE_MS), redirect: 'manual' });
    const body = await res.text();
    return { path, status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), body };
  } catch (err) {
    // A connection refused or closed at once (the port is closing) is an answer; a wait is not.
    const waited = (err as Error).name === 'TimeoutError';
    return { path, status: waited ? 'no answer' : 'refused', ms: Date.now() - started, retryAfter: null, body: '' };
  }
}

const PATHS = ['/healthz', '/readyz', '/auth?client_id=x&response_type=code'];

test('from its first open port to its exit, kapu answers: 503 with Retry-After until ready, health at once', async () => {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'kapu-life-'));
  let lock: pg.Client | null = null;
  if (database.url) {
    lock = new pg.Client({ connectionString: database.url });
    await lock.connect();
    await lock.query('begin');
    await lock.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
  }
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    // A short drain: the probes see it too (and the test waits one second, not five).
    env: { PATH: process.env['PATH'], PORT: '0', METRICS_PORT: '0', DATA_DIR: dataDir, DEMO: 'false', LOG_LEVEL: 'info', SHUTDOWN_GRACE_SECONDS: '1', ...(database.url && { DATABASE_URL: database.url }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  const seen = (msg: string) => out.split('\n').some((l) => l.includes(`"msg":"${msg}"`));
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('"msg":"kapu accepting connections, starting"'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.on('exit', () => reject(new Error(`kapu exited: ${out}`)));
    });

    const starting: Probe[] = [];
    for (let round = 0; !seen('kapu listening'); round += 1) {
      const answers = await Promise.all(PATHS.map((p) => probe(port, p)));
      // A probe answered after the app was ready counts as a probe of the ready app.
      if (!seen('kapu listening')) starting.push(...answers);
      if (lock && round === 3) await lock.query('commit');
    }
    await lock?.end();
    lock = null;
    // On Postgres the test kept kapu starting; the embedded database is migrated before the
    // port opens, so there the moments before ready may pass between two probes.
    if (database.url) expect(starting.length).toBeGreaterThan(0);
    for (const p of starting) {
      expect({ path: p.path, answered: p.status !== 'no answer' }).toEqual({ path: p.path, answered: true });
      if (p.path === '/healthz') expect({ path: p.path, status: p.status, body: JSON.parse(p.body) as unknown }).toEqual({ path: p.path, status: 200, body: { status: 'starting' } });
      else expect({ path: p.path, status: p.status, retryAfter: p.retryAfter }).toEqual({ path: p.path, status: 503, retryAfter: '5' });
    }

    const ready = await Promise.all(PATHS.slice(0, 2).map((p) => probe(port, p)));
    expect(ready.map((p) => p.status)).toEqual([200, 200]);

    child.kill('SIGTERM');
    let stopping = true;
    void exited.then(() => (stopping = false));
    const duringShutdown: Probe[] = [];
    while (stopping) duringShutdown.push(...(await Promise.all(PATHS.slice(0, 2).map((p) => probe(port, p)))));
    // Every probe got an answer or a refused connection at once: none hung.
    expect(duringShutdown.filter((p) => p.status === 'no answer')).toEqual([]);
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
    await lock?.end().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  }
}, 60_000);
