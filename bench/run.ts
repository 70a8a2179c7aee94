/**
 * `npm run bench`: how fast kapu signs citizens in on this machine, measured from outside.
 *
 * kapu runs as its own process (`node src/main.ts`, as in production) on a fresh database of
 * the local Postgres; this process is the load generator (scripted citizens, an openid-client
 * RP, the SMTP sink), so none of its CPU is counted. For each scenario it reports:
 *   - operations per second per vCPU of kapu's own CPU (utime + stime from /proc, all threads),
 *   - Postgres CPU per operation (every `postgres` process, from /proc),
 *   - database round trips per operation: transactions as pg_stat_database counts them, and
 *     the statements kapu sent (its kapu_db_* counters), BEGIN and COMMIT included,
 *   - p50/p99 latency at peak (closed loop) and p99 at 70 % of that peak (open loop),
 *   - kapu's peak RSS over the whole run.
 * Discovery + JWKS is also run against a bare oidc-provider in the same run, as a ratio.
 * Bulk import (bench/import.ts) runs the CLI's `account import` on a database of its own.
 *
 *   npm run bench                                   # local Postgres at 127.0.0.1:5432
 *   DATABASE_URL=postgres://…/postgres npm run bench
 *   BENCH_N=300 BENCH_CONCURRENCY=6 npm run bench
 *   BENCH_ONLY=import BENCH_IMPORT_N=20000 npm run bench
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { generate, generateSecret } from 'otplib';
import pg from 'pg';
import { registerClient } from '../src/admin/clients.ts';
import { loadConfig } from '../src/config/index.ts';
import { buildDeps, closeDeps } from '../src/deps.ts';
import { createLogger } from '../src/log.ts';
import { buildProvider } from '../src/oidc/provider.ts';
import { AAD } from '../src/security/secret-box.ts';
import { MailSink, readCodeMail } from '../test/helpers/mail-sink.ts';
import { benchImport } from './import.ts';
import { LeanBrowser } from './lib/citizen.ts';
import { cpuSeconds, peakRssMiB, postgresCpu, postgresCpuSince, rssMiB, threadCpu } from './lib/system.ts';

const N = Number(process.env['BENCH_N'] ?? 300);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 6);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 8);
/** Scenarios to run (comma-separated: password,email,totp,refresh,discovery,import); default all. */
const ONLY = new Set((process.env['BENCH_ONLY'] ?? 'password,email,totp,refresh,discovery,import').split(','));
/** Alternating rounds (kapu, then the bare provider) behind the discovery ratio. */
const RATIO_ROUNDS = 6;
/** Accounts in the bulk-import scenario's CSV. */
const IMPORT_N = Number(process.env['BENCH_IMPORT_N'] ?? 20_000);
/** Profile kapu (node --cpu-prof) into this folder. */
const PROFILE_DIR = process.env['BENCH_PROFILE_DIR'];
/** Also read pg_stat_database (Postgres's own count; needs quiet periods of 11 s around each run). */
const PG_STATS = process.env['BENCH_PG_STATS'] !== '0';
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench password 1';
const REDIRECT = 'https://rp.example.hu/callback';

// ---------------------------------------------------------------------------------------------
// Processes and the database

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function adminUrl(database: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  return url.href;
}

async function adminQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl('postgres') });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * How `npm start` runs kapu (package.json): its environment assignments and node flags, so the
 * bench measures kapu exactly as it is started.
 */
function startCommand(): { env: Record<string, string>; nodeFlags: string[]; script: string } {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words[0]?.includes('=')) {
    const [name, value] = words.shift()!.split('=') as [string, string];
    env[name] = value;
  }
  if (words.shift() !== 'node') throw new Error(`npm start is not "node …": ${pkg.scripts.start}`);
  const script = words.pop()!;
  return { env, nodeFlags: words, script };
}

async function startProcess(script: string, env: Record<string, string>, readyUrl: string, nodeFlags: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--no-warnings', ...nodeFlags, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i += 1) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ok = await fetch(readyUrl).then((r) => r.ok, () => false);
    if (ok) return child;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not become ready`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

// ---------------------------------------------------------------------------------------------
// Load

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `count` operations, `concurrency` at a time (closed loop). Latencies in ms, wall seconds. */
async function closedLoop(count: number, concurrency: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

/** Operations started at a fixed rate for `seconds` (open loop): latency from the planned start. */
async function openLoop(rate: number, seconds: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  const total = Math.max(1, Math.round(rate * seconds));
  const started = performance.now();
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < total; i += 1) {
    const planned = started + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 0) await sleep(wait);
    running.push(one(i).then(() => void latencies.push(performance.now() - planned)));
  }
  await Promise.all(running);
  return latencies.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Measured {
  scenario: string;
  target: string;
  n: number;
  perSecond: number;
  perVcpu: number;
  kapuCpuMs: number;
  /** Of kapu's CPU: the event loop's, and the libuv pool's (argon2). */
  eventLoopCpuMs: number;
  poolCpuMs: number;
  postgresCpuMs: number;
  transactions: number | null;
  statements: number | null;
  p50: number;
  p99: number;
  p99at70: number | null;
  /** kapu's peak RSS so far, after this scenario. */
  peakRss: number | null;
}

async function databaseTransactions(database: string): Promise<number> {
  const [row] = await adminQuery<{ n: string }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = $1', [database]);
  return Number(row?.n ?? 0);
}

/** kapu's own count of statements sent to the database, from its metrics listener (none: null). */
async function kapuStatements(metricsUrl: string | null): Promise<number | null> {
  if (metricsUrl === null) return null;
  const text = await fetch(`${metricsUrl}/metrics`).then((r) => r.text());
  const m = /^kapu_db_statements_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** CPU seconds process `pid` spends on `count` operations run in a closed loop. */
async function cpuFor(pid: number, count: number, one: (i: number) => Promise<void>): Promise<number> {
  const before = cpuSeconds(pid)!;
  await closedLoop(count, CONCURRENCY, one);
  return cpuSeconds(pid)! - before;
}

async function measure(
  name: string,
  target: string,
  env: { kapu: ChildProcess; kapuUrl: string; metricsUrl: string | null; database: string | null },
  count: number,
  one: (i: number) => Promise<void>,
  options: { latencyRun?: boolean; warmup?: number } = {},
): Promise<Measured> {
  let i = 0;
  const next = () => one(i++);
  // Enough to let the JIT settle: the first hundred requests of a path run slower code.
  await closedLoop(options.warmup ?? Math.min(100, count), CONCURRENCY, next);
  const pgStats = PG_STATS && env.database !== null;
  // Postgres publishes a backend's counts when it goes idle, up to 10 s later: quiet first.
  if (pgStats) await sleep(11_000);
  const pid = env.kapu.pid!;
  const cpu0 = cpuSeconds(pid)!;
  const threads0 = threadCpu(pid);
  const pg0 = postgresCpu();
  const xact0 = pgStats ? await databaseTransactions(env.database!) : 0;
  const stmt0 = await kapuStatements(env.metricsUrl);
  const { latencies, seconds } = await closedLoop(count, CONCURRENCY, next);
  const kapuCpu = cpuSeconds(pid)! - cpu0;
  const threads1 = threadCpu(pid);
  const threadMs = (name: string) => (((threads1.get(name) ?? 0) - (threads0.get(name) ?? 0)) * 1000) / count;
  const postgres = postgresCpuSince(pg0);
  const stmt1 = await kapuStatements(env.metricsUrl);
  let xact: number | null = null;
  if (pgStats) {
    await sleep(11_000);
    xact = (await databaseTransactions(env.database!)) - xact0;
  }
  const perSecond = count / seconds;
  let p99at70: number | null = null;
  if (options.latencyRun !== false) {
    const at70 = await openLoop(0.7 * perSecond, LATENCY_SECONDS, next);
    p99at70 = percentile(at70, 99);
  }
  const row: Measured = {
    scenario: name,
    target,
    n: count,
    perSecond,
    perVcpu: count / kapuCpu,
    kapuCpuMs: (kapuCpu * 1000) / count,
    eventLoopCpuMs: threadMs('node'),
    poolCpuMs: threadMs('libuv-worker'),
    postgresCpuMs: (postgres * 1000) / count,
    transactions: xact === null ? null : xact / count,
    // The two /metrics scrapes themselves are not statements; the difference is the load's.
    statements: stmt0 !== null && stmt1 !== null ? (stmt1 - stmt0) / count : null,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p99at70,
    peakRss: peakRssMiB(pid),
  };
  process.stderr.write(`  ${name}: ${row.perVcpu.toFixed(1)}/s per vCPU, ${row.transactions?.toFixed(1) ?? '—'} xact/op, ${row.statements?.toFixed(1) ?? '—'} statements/op, RSS ${rssMiB(pid)?.toFixed(0)} MiB (peak ${row.peakRss?.toFixed(0)})\n`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

// Bulk import (the CLI, no server): on a database of its own, before the server scenarios.
let importLine: string | null = null;
if (ONLY.has('import')) {
  const name = `kapu_bench_import_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  try {
    process.stderr.write(`importing ${IMPORT_N} accounts with the CLI…\n`);
    const result = await benchImport(adminUrl(name), IMPORT_N);
    importLine = `bulk import (\`account import\`, ${result.accounts} accounts, half with an argon2id hash): ${result.seconds.toFixed(1)} s, **${Math.round(result.perMinute)} accounts/minute** (target ≥ 10,000); a re-run imported none`;
    process.stderr.write(`  ${importLine}\n`);
  } finally {
    await adminQuery(`drop database if exists ${name} with (force)`);
  }
  if ([...ONLY].every((s) => s === 'import')) {
    process.stdout.write(`${importLine}\n`);
    process.exit(0);
  }
}

const mail = await new MailSink().start();
const databaseName = `kapu_bench_${randomBytes(4).toString('hex')}`;
await adminQuery(`create database ${databaseName}`);
const databaseUrl = adminUrl(databaseName);
const port = await freePort();
const kapuUrl = `http://127.0.0.1:${port}`;
// /metrics is on a listener of its own, never on the public port.
const metricsPort = await freePort();
const env: Record<string, string> = {
  NODE_ENV: 'development',
  PORT: String(port),
  METRICS_PORT: String(metricsPort),
  ISSUER: kapuUrl,
  DATABASE_URL: databaseUrl,
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  ENCRYPTION_KEYS: `b1:${randomBytes(32).toString('base64')}`,
  SMTP_URL: mail.url,
  CODE_MAX_PER_HOUR: '30',
  DEMO: 'false',
  LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'info',
};
const start = startCommand();

const children: ChildProcess[] = [];
try {
  // Seed with kapu's own code: one RP, and accounts sharing one password hash (hashing
  // thousands of passwords would only measure argon2 at seeding time).
  const perScenario = N + 100 + Math.ceil(LATENCY_SECONDS * 80);
  process.stderr.write(`seeding ${3 * perScenario} accounts…\n`);
  const config = loadConfig(env);
  const deps = await buildDeps(config, { log: createLogger('warn') });
  const provider = await buildProvider(deps);
  const { clientSecret } = await registerClient(deps, provider, { clientId: 'bench-rp', redirectUris: [REDIRECT], authMethod: 'client_secret_basic' });
  const hash = await deps.passwords.hash(PASSWORD);
  const totpSecrets = new Map<string, string>();
  const users = { password: [] as string[], email: [] as string[], totp: [] as string[] };
  const now = new Date();
  for (const kind of ['password', 'email', 'totp'] as const) {
    const accounts = Array.from({ length: perScenario }, (_, i) => ({ id: randomBytes(12).toString('hex'), username: `${kind}${i}` }));
    const factors = accounts.flatMap(({ id, username }) => {
      if (kind === 'password') return [];
      const secret = kind === 'totp' ? generateSecret({ length: 20 }) : null;
      if (secret) totpSecrets.set(username, secret);
      return [{ id: randomBytes(12).toString('hex'), account_id: id, kind, secret_sealed: secret && deps.box.seal(secret, AAD.factorSecret(id, kind)), last_time_step: null, created_at: now }];
    });
    // In batches, straight into the tables: what the CLI would do one account at a time.
    for (let i = 0; i < accounts.length; i += 500) {
      await deps.db
        .insertInto('account')
        .values(accounts.slice(i, i + 500).map(({ id, username }) => ({ id, username, name: `Bench ${username}`, email: `${username}@example.hu`, password_hash: hash, created_at: now, updated_at: now })))
        .execute();
    }
    for (let i = 0; i < factors.length; i += 500) await deps.db.insertInto('factor').values(factors.slice(i, i + 500)).execute();
    users[kind].push(...accounts.map((a) => a.username));
  }
  await closeDeps(deps);

  const kapu = await startProcess(start.script, { ...start.env, ...env }, `${kapuUrl}/readyz`, [
    ...start.nodeFlags,
    ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
  ]);
  children.push(kapu);
  const rp = await oidc.discovery(new URL(kapuUrl), 'bench-rp', clientSecret!, undefined, { execute: [oidc.allowInsecureRequests] });
  const target = { kapu, kapuUrl, metricsUrl: `http://127.0.0.1:${metricsPort}`, database: databaseName };

  /** One full sign-in: the RP's redirect, the pages, the code exchange and userinfo. */
  async function signIn(method: string, username: string, secondFactor?: (browser: LeanBrowser, page: Awaited<ReturnType<LeanBrowser['go']>>) => Promise<void>, params: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...params,
    });
    const browser = new LeanBrowser(kapuUrl);
    const chooser = await browser.go(url);
    const passwordPage = await browser.press(chooser, { button: { name: 'method', value: method } });
    const next = await browser.press(passwordPage, { action: '/password' }, { username, password: PASSWORD });
    if (secondFactor) await secondFactor(browser, next);
    if (!browser.exitUrl) throw new Error(`sign-in of ${username} did not return to the RP`);
    const tokens = await oidc.authorizationCodeGrant(rp, browser.exitUrl, { pkceCodeVerifier: verifier, expectedState: state });
    await oidc.fetchUserInfo(rp, tokens.access_token, oidc.skipSubjectCheck);
    return tokens;
  }

  const rows: Measured[] = [];
  const notes: string[] = [];
  const mailWaits: number[] = [];
  if (ONLY.has('password')) rows.push(await measure('full sign-in, password only', '≥ 45/s per vCPU', target, N, async (i) => void (await signIn('legacy', users.password[i]!))));
  if (ONLY.has('email')) rows.push(
    await measure('full sign-in, password + emailed code (SMTP)', '≥ 40/s per vCPU', target, N, async (i) => {
      const username = users.email[i]!;
      const since = mail.received.length;
      await signIn('email', username, async (browser, page) => {
        const asked = performance.now();
        const { code } = readCodeMail(await mail.next((m) => m.to.includes(`${username}@`), since));
        mailWaits.push(performance.now() - asked);
        await browser.press(page, { action: '/verify' }, { code });
      });
    }),
  );
  if (mailWaits.length > 0) {
    mailWaits.sort((a, b) => a - b);
    notes.push(`emailed code: the mail reached the SMTP sink ${percentile(mailWaits, 50).toFixed(0)} ms (p50) / ${percentile(mailWaits, 99).toFixed(0)} ms (p99) after the password step's page`);
  }
  if (ONLY.has('totp')) rows.push(
    await measure('full sign-in, password + authenticator app', '—', target, N, async (i) => {
      const username = users.totp[i]!;
      await signIn('totp', username, async (browser, page) => {
        await browser.press(page, { action: '/verify' }, { code: await generate({ secret: totpSecrets.get(username)! }) });
      });
    }),
  );

  if (ONLY.has('refresh')) {
    // A few sign-ins with offline_access, then each operation rotates a chain no other holds.
    const chains: string[] = [];
    for (let c = 0; c < CONCURRENCY * 4; c += 1) {
      const tokens = await signIn('legacy', users.password[c]!, undefined, { scope: 'openid offline_access', prompt: 'consent' });
      chains.push(tokens.refresh_token!);
    }
    const busy = new Set<number>();
    rows.push(
      await measure('refresh-token grant (rotating)', '≥ 800/s per vCPU', target, N * 10, async () => {
        let chain = chains.findIndex((_, c) => !busy.has(c));
        while (chain === -1) {
          await sleep(1);
          chain = chains.findIndex((_, c) => !busy.has(c));
        }
        busy.add(chain);
        try {
          chains[chain] = (await oidc.refreshTokenGrant(rp, chains[chain]!)).refresh_token!;
        } finally {
          busy.delete(chain);
        }
      }),
    );
  }

  let discoveryRatio: number | null = null;
  if (ONLY.has('discovery')) {
    const discovery = (base: string) => async () => {
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const res = await fetch(`${base}${path}`);
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        await res.arrayBuffer();
      }
    };
    const kapuDiscovery = await measure('discovery + JWKS (kapu)', '≥ 0.8× bare', target, N * 10, discovery(kapuUrl));
    rows.push(kapuDiscovery);
    const barePort = await freePort();
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bare = await startProcess('bench/bare-provider.ts', { PORT: String(barePort) }, `${bareUrl}/.well-known/openid-configuration`);
    children.push(bare);
    const bareDiscovery = await measure('discovery + JWKS (bare oidc-provider)', '', { kapu: bare, kapuUrl: bareUrl, metricsUrl: null, database: null }, N * 10, discovery(bareUrl));
    rows.push(bareDiscovery);
    // The machine's speed drifts over minutes, and the two rows above ran one after the other:
    // the ratio comes from rounds in which kapu and the bare provider take turns.
    let kapuCpu = 0;
    let bareCpu = 0;
    for (let round = 0; round < RATIO_ROUNDS; round += 1) {
      kapuCpu += await cpuFor(kapu.pid!, N * 2, discovery(kapuUrl));
      bareCpu += await cpuFor(bare.pid!, N * 2, discovery(bareUrl));
    }
    discoveryRatio = bareCpu / kapuCpu;
  }
  const rss = peakRssMiB(kapu.pid!);

  // ---- report
  const f = (v: number | null, digits = 0) => (v === null || Number.isNaN(v) ? '—' : v.toFixed(digits));
  const lines = [
    `kapu bench — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${(await import('node:os')).cpus().length} vCPU (${(await import('node:os')).cpus()[0]?.model ?? 'cpu'}), Postgres ${(await adminQuery<{ server_version: string }>('show server_version'))[0]!.server_version}`,
    `concurrency ${CONCURRENCY}; latency at 70 % of peak over ${LATENCY_SECONDS} s; kapu started as npm start does (${Object.entries(start.env).map(([k, v]) => `${k}=${v}`).join(' ')} node ${start.nodeFlags.join(' ')}), LOG_LEVEL=${env['LOG_LEVEL']}`,
    '',
    '| scenario | ops/s (wall) | ops/s per vCPU of kapu | target | kapu CPU ms/op (event loop + argon2 pool) | Postgres CPU ms/op | DB xact/op | DB statements/op | p50 ms | p99 ms | p99 ms at 70 % | peak RSS MiB |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) =>
      `| ${r.scenario} | ${f(r.perSecond, 1)} | **${f(r.perVcpu, 1)}** | ${r.target} | ${f(r.kapuCpuMs, 2)} (${f(r.eventLoopCpuMs, 1)} + ${f(r.poolCpuMs, 1)}) | ${f(r.postgresCpuMs, 2)} | ${r.scenario.includes('bare') ? '—' : f(r.transactions, 1)} | ${f(r.statements, 1)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.p99at70)} | ${f(r.peakRss)} |`,
    ),
    '',
    `discovery + JWKS, kapu / bare oidc-provider per vCPU, over ${RATIO_ROUNDS} alternating rounds: **${f(discoveryRatio, 2)}×** (target ≥ 0.8×)`,
    `kapu peak RSS over the run: **${f(rss)} MiB** (target < 250 MiB)`,
    ...(importLine ? [importLine] : []),
    ...notes,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const child of children) await stopProcess(child);
  await mail.stop();
  await adminQuery(`drop database if exists ${databaseName} with (force)`);
}
