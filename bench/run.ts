/**
 * `npm run bench`: how fast kapu signs citizens in on this machine, measured from outside, each
 * figure beside a reference measured in the same run (absolute speeds on shared machines swing
 * by 2× between days; ratios of one run do not):
 *   - the ceiling: the CPU of one argon2id verification at kapu's configured cost, measured in
 *     a process of its own just before and after each sign-in scenario (bench/argon2-ceiling.ts);
 *     a sign-in's ratio is kapu's sign-ins per vCPU over 1 / that CPU;
 *   - the floor: a bare oidc-provider with a trivial interaction (bench/bare-provider.ts): a full
 *     sign-in, the refresh grant and discovery + JWKS; the last two are compared with kapu's in
 *     alternating rounds, so the machine's drift hits both alike.
 * kapu runs as its own process (`npm start`'s command and flags) on a fresh database of the
 * local Postgres; this process is the load generator (scripted citizens, an openid-client RP,
 * the SMTP sink), so none of its CPU is counted. Per scenario: operations per second per vCPU
 * of kapu's own CPU (all threads, from /proc), Postgres CPU, database round trips per operation
 * (transactions as pg_stat_database counts them, statements as kapu sent them, BEGIN and COMMIT
 * included), p50/p99 at peak (closed loop), p99 at 70 % of that peak (open loop), peak RSS.
 * Bulk import (bench/import.ts) runs the CLI's `account import` on a database of its own.
 *
 *   npm run bench                                   # local Postgres at 127.0.0.1:5432
 *   DATABASE_URL=postgres://…/postgres npm run bench
 *   BENCH_N=300 BENCH_CONCURRENCY=6 BENCH_ONLY=password,refresh npm run bench
 *   BENCH_ONLY=import BENCH_IMPORT_N=20000 npm run bench
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { MailSink, readCodeMail } from '../test/helpers/mail-sink.ts';
import { benchImport } from './import.ts';
import { LeanBrowser } from './lib/citizen.ts';
import { type Measured, type Target, cpuFor, measure, percentile } from './lib/measure.ts';
import { freePort, runJson, startCommand, startProcess, stopProcess } from './lib/processes.ts';
import { type Line, table, verdicts } from './lib/report.ts';
import { seed } from './lib/seed.ts';

const N = Number(process.env['BENCH_N'] ?? 300);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 6);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 8);
/** Scenarios to run (comma-separated: password,email,totp,refresh,discovery,import); default all. */
const ONLY = new Set((process.env['BENCH_ONLY'] ?? 'password,email,totp,refresh,discovery,import').split(','));
/** Alternating rounds (kapu, then the bare provider) behind the refresh and discovery ratios. */
const RATIO_ROUNDS = 6;
/** Seconds of argon2id verifications per measurement of the ceiling. */
const ARGON2_SECONDS = 2;
/** Accounts in the bulk-import scenario's CSV. */
const IMPORT_N = Number(process.env['BENCH_IMPORT_N'] ?? 20_000);
/** Profile kapu (node --cpu-prof) into this folder. */
const PROFILE_DIR = process.env['BENCH_PROFILE_DIR'];
/**
 * More node flags for kapu, e.g. `--perf-basic-prof` for Linux perf, which samples only what is
 * on the CPU (--cpu-prof samples the main thread's stack in wall time: a write that lets
 * Postgres run first shows there as the write's own time).
 */
const KAPU_NODE_FLAGS = (process.env['BENCH_KAPU_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
/** Also read pg_stat_database (Postgres's own count; needs quiet periods of 11 s around each run). */
const PG_STATS = process.env['BENCH_PG_STATS'] !== '0';
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench password 1';
const REDIRECT = 'https://rp.example.hu/callback';
/** The issue's targets, as ratios to the scenario's reference. */
const TARGETS = { password: 0.8, email: 0.7, totp: 0.8, refresh: 0.5, discovery: 0.8 };

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
const port = await freePort();
const kapuUrl = `http://127.0.0.1:${port}`;
// /metrics is on a listener of its own, never on the public port.
const metricsPort = await freePort();
const env: Record<string, string> = {
  NODE_ENV: 'development',
  PORT: String(port),
  METRICS_PORT: String(metricsPort),
  ISSUER: kapuUrl,
  DATABASE_URL: adminUrl(databaseName),
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  ENCRYPTION_KEYS: `b1:${randomBytes(32).toString('base64')}`,
  SMTP_URL: mail.url,
  CODE_MAX_PER_HOUR: '30',
  // The scripted citizens come back in browsers that signed in before: no new-browser mail
  // (with BENCH_NEW_BROWSER_MAIL=true each sign-in adds one outbox row and one mail).
  NEW_BROWSER_MAIL: process.env['BENCH_NEW_BROWSER_MAIL'] ?? 'false',
  DEMO: 'false',
  LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'info',
};
const start = startCommand();
const config = loadConfig(env);

/** CPU ms of one argon2id verification at kapu's cost, in a process started as kapu is. */
async function argon2Ms(): Promise<number> {
  const result = await runJson<{ cpuMsPerVerify: number }>('bench/argon2-ceiling.ts', { ...start.env, BENCH_ARGON2: JSON.stringify(config.argon2), BENCH_ARGON2_SECONDS: String(ARGON2_SECONDS) });
  return result.cpuMsPerVerify;
}

const children: ChildProcess[] = [];
try {
  const perScenario = N + 100 + Math.ceil(LATENCY_SECONDS * 80);
  process.stderr.write(`seeding ${3 * perScenario} accounts…\n`);
  const { clientSecret, users, totpSecrets } = await seed(config, { password: PASSWORD, redirectUri: REDIRECT, perScenario });

  const kapu = await startProcess(start.script, { ...start.env, ...env }, `${kapuUrl}/readyz`, [
    ...start.nodeFlags,
    ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    ...KAPU_NODE_FLAGS,
  ]);
  children.push(kapu);
  process.stderr.write(`kapu is process ${kapu.pid}\n`);
  const barePort = await freePort();
  const bareUrl = `http://127.0.0.1:${barePort}`;
  const bareSecret = randomBytes(24).toString('base64url');
  const bare = await startProcess('bench/bare-provider.ts', { ...start.env, PORT: String(barePort), BARE_CLIENT_SECRET: bareSecret, BARE_REDIRECT_URI: REDIRECT }, `${bareUrl}/.well-known/openid-configuration`, start.nodeFlags);
  children.push(bare);
  const insecure = { execute: [oidc.allowInsecureRequests] };
  const at = {
    kapu: { base: kapuUrl, rp: await oidc.discovery(new URL(kapuUrl), 'bench-rp', clientSecret, undefined, insecure) },
    bare: { base: bareUrl, rp: await oidc.discovery(new URL(bareUrl), 'bench-rp', bareSecret, undefined, insecure) },
  };
  const kapuTarget: Target = {
    process: kapu,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    transactions: PG_STATS
      ? async () => Number((await adminQuery<{ n: string }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = $1', [databaseName]))[0]?.n ?? 0)
      : null,
  };
  const bareTarget: Target = { process: bare, metricsUrl: null, transactions: null };
  const options = { concurrency: CONCURRENCY, latencySeconds: LATENCY_SECONDS };

  type Walk = (browser: LeanBrowser, authorizationUrl: URL) => Promise<void>;
  /** One full sign-in: the RP's redirect, the pages (`walk`), the code exchange and userinfo. */
  async function signIn(where: keyof typeof at, walk: Walk, params: Record<string, string> = {}) {
    const { base, rp } = at[where];
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
    const browser = new LeanBrowser(base);
    await walk(browser, url);
    if (!browser.exitUrl) throw new Error(`a sign-in at ${where} did not return to the RP`);
    const tokens = await oidc.authorizationCodeGrant(rp, browser.exitUrl, { pkceCodeVerifier: verifier, expectedState: state });
    await oidc.fetchUserInfo(rp, tokens.access_token, oidc.skipSubjectCheck);
    return tokens;
  }
  /** kapu's pages: the method chooser, the password, then the second factor if any. */
  const atKapu =
    (method: string, username: string, secondFactor?: (browser: LeanBrowser, page: Awaited<ReturnType<LeanBrowser['go']>>) => Promise<void>): Walk =>
    async (browser, url) => {
      const chooser = await browser.go(url);
      const passwordPage = await browser.press(chooser, { button: { name: 'method', value: method } });
      const next = await browser.press(passwordPage, { action: '/password' }, { username, password: PASSWORD });
      if (secondFactor) await secondFactor(browser, next);
    };
  /** The bare provider's trivial interaction answers the first request it sees. */
  const atBare: Walk = async (browser, url) => void (await browser.go(url));

  const lines: Line[] = [];
  const notes: string[] = [];
  const mailWaits: number[] = [];

  // ---- sign-ins, each against the argon2id ceiling measured just before and just after it
  const signIns: Array<{ key: 'password' | 'email' | 'totp'; name: string; one: (i: number) => Promise<void> }> = [
    { key: 'password', name: 'full sign-in, password only', one: async (i) => void (await signIn('kapu', atKapu('legacy', users.password[i]!))) },
    {
      key: 'email',
      name: 'full sign-in, password + emailed code (SMTP)',
      one: async (i) => {
        const username = users.email[i]!;
        const since = mail.received.length;
        await signIn('kapu', atKapu('email', username, async (browser, page) => {
          const asked = performance.now();
          const { code } = readCodeMail(await mail.next((m) => m.to.includes(`${username}@`), since));
          mailWaits.push(performance.now() - asked);
          await browser.press(page, { action: '/verify' }, { code });
        }));
      },
    },
    {
      key: 'totp',
      name: 'full sign-in, password + authenticator app',
      one: async (i) => {
        const username = users.totp[i]!;
        await signIn('kapu', atKapu('totp', username, async (browser, page) => {
          await browser.press(page, { action: '/verify' }, { code: await generate({ secret: totpSecrets.get(username)! }) });
        }));
      },
    },
  ];
  const argon2Readings: number[] = [];
  let passwordRow: Measured | null = null;
  for (const scenario of signIns.filter((s) => ONLY.has(s.key))) {
    const before = await argon2Ms();
    const row = await measure(scenario.name, kapuTarget, N, scenario.one, options);
    const after = await argon2Ms();
    argon2Readings.push(before, after);
    const ceiling = 2000 / (before + after);
    lines.push({ row, reference: { name: 'argon2id ceiling', perVcpu: ceiling, ratio: row.perVcpu / ceiling, target: TARGETS[scenario.key] } });
    if (scenario.key === 'password') passwordRow = row;
  }
  if (mailWaits.length > 0) {
    mailWaits.sort((a, b) => a - b);
    notes.push(`emailed code: the mail reached the SMTP sink ${percentile(mailWaits, 50).toFixed(0)} ms (p50) / ${percentile(mailWaits, 99).toFixed(0)} ms (p99) after the password step's page`);
  }
  if (argon2Readings.length > 0) {
    const sorted = [...argon2Readings].sort((a, b) => a - b);
    notes.push(`argon2id verification at kapu's cost (m=${config.argon2.memoryCost} KiB, t=${config.argon2.timeCost}, p=${config.argon2.parallelism}): ${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)} ms of CPU in this run, a ceiling of ${(1000 / sorted.at(-1)!).toFixed(1)}–${(1000 / sorted[0]!).toFixed(1)} sign-ins/s per vCPU`);
  }

  // ---- the protocol's floor: a full sign-in through the bare provider
  if (ONLY.has('password')) {
    const bareRow = await measure('full sign-in, bare oidc-provider (trivial interaction; reference)', bareTarget, N, async () => void (await signIn('bare', atBare)), options);
    lines.push({ row: bareRow, reference: null, isReference: true });
    if (passwordRow) {
      const argon2 = argon2Readings.slice(0, 2).reduce((a, b) => a + b, 0) / 2;
      notes.push(`a password sign-in costs kapu ${(passwordRow.cpuMs - argon2).toFixed(1)} ms of CPU beyond its argon2id verification (${passwordRow.eventLoopCpuMs.toFixed(1)} ms on the event loop); the bare provider's whole sign-in ${bareRow.cpuMs.toFixed(1)} ms`);
    }
  }

  /** A rate per vCPU of kapu over the bare provider's, from rounds in which they take turns. */
  async function alternatingRatio(kapuOne: (i: number) => Promise<void>, bareOne: (i: number) => Promise<void>, count: number): Promise<number> {
    let kapuCpu = 0;
    let bareCpu = 0;
    for (let round = 0; round < RATIO_ROUNDS; round += 1) {
      kapuCpu += await cpuFor(kapu.pid!, count, CONCURRENCY, kapuOne);
      bareCpu += await cpuFor(bare.pid!, count, CONCURRENCY, bareOne);
    }
    return bareCpu / kapuCpu;
  }

  if (ONLY.has('refresh')) {
    // A few sign-ins with offline_access at each, then each operation rotates a chain no other holds.
    const rotate = async (where: keyof typeof at, username: (c: number) => string | undefined) => {
      const chains: string[] = [];
      for (let c = 0; c < CONCURRENCY * 4; c += 1) {
        const walk = where === 'kapu' ? atKapu('legacy', username(c)!) : atBare;
        chains.push((await signIn(where, walk, { scope: 'openid offline_access', prompt: 'consent' })).refresh_token!);
      }
      const busy = new Set<number>();
      return async () => {
        let chain = chains.findIndex((_, c) => !busy.has(c));
        while (chain === -1) {
          await sleep(1);
          chain = chains.findIndex((_, c) => !busy.has(c));
        }
        busy.add(chain);
        try {
          chains[chain] = (await oidc.refreshTokenGrant(at[where].rp, chains[chain]!)).refresh_token!;
        } finally {
          busy.delete(chain);
        }
      };
    };
    const kapuRefresh = await rotate('kapu', (c) => users.password[c]);
    const bareRefresh = await rotate('bare', () => undefined);
    const kapuRow = await measure('refresh-token grant (rotating)', kapuTarget, N * 10, kapuRefresh, options);
    const bareRow = await measure('refresh-token grant, bare oidc-provider (reference)', bareTarget, N * 10, bareRefresh, options);
    const ratio = await alternatingRatio(kapuRefresh, bareRefresh, N * 2);
    lines.push({ row: kapuRow, reference: { name: 'bare provider', perVcpu: bareRow.perVcpu, ratio, target: TARGETS.refresh } }, { row: bareRow, reference: null, isReference: true });
    notes.push(`refresh grant: ${ratio.toFixed(2)}× the bare provider over ${RATIO_ROUNDS} alternating rounds (the ratio's figure); ${(kapuRow.perVcpu / bareRow.perVcpu).toFixed(2)}× from the two rows, measured one after the other`);
  }

  if (ONLY.has('discovery')) {
    const discovery = (base: string) => async () => {
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const res = await fetch(`${base}${path}`);
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        await res.arrayBuffer();
      }
    };
    const kapuRow = await measure('discovery + JWKS', kapuTarget, N * 10, discovery(kapuUrl), options);
    const bareRow = await measure('discovery + JWKS, bare oidc-provider (reference)', bareTarget, N * 10, discovery(bareUrl), options);
    const ratio = await alternatingRatio(discovery(kapuUrl), discovery(bareUrl), N * 2);
    lines.push({ row: kapuRow, reference: { name: 'bare provider', perVcpu: bareRow.perVcpu, ratio, target: TARGETS.discovery } }, { row: bareRow, reference: null, isReference: true });
    notes.push(`discovery + JWKS: ${ratio.toFixed(2)}× the bare provider over ${RATIO_ROUNDS} alternating rounds (the ratio's figure); ${(kapuRow.perVcpu / bareRow.perVcpu).toFixed(2)}× from the two rows, measured one after the other`);
  }

  // ---- report
  const cpu = cpus();
  const pgVersion = (await adminQuery<{ server_version: string }>('show server_version'))[0]!.server_version;
  const load = loadavg().map((l) => l.toFixed(1)).join(', ');
  const report = [
    `kapu bench — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}, ${cpu.length} vCPU (${cpu[0]?.model ?? 'cpu'}), Postgres ${pgVersion}`,
    `load average at the end (1, 5, 15 min): ${load} — other work on the machine takes CPU from kapu and from the references alike, and lengthens latencies`,
    `concurrency ${CONCURRENCY}; latency at 70 % of peak over ${LATENCY_SECONDS} s; ratios of refresh and discovery from ${RATIO_ROUNDS} alternating rounds; kapu and the bare provider started as npm start does (${Object.entries(start.env).map(([k, v]) => `${k}=${v}`).join(' ')} ${['node', ...start.nodeFlags].join(' ')}), LOG_LEVEL=${env['LOG_LEVEL']}, NEW_BROWSER_MAIL=${env['NEW_BROWSER_MAIL']}`,
    '',
    ...table(lines),
    '',
    ...notes.map((n) => `- ${n}`),
    ...(importLine ? [`- ${importLine}`] : []),
    '',
    'Targets:',
    ...verdicts(lines),
  ];
  process.stdout.write(`${report.join('\n')}\n`);
} finally {
  for (const child of children) await stopProcess(child);
  await mail.stop();
  await adminQuery(`drop database if exists ${databaseName} with (force)`);
}
