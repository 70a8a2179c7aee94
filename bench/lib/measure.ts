/**
 * Load and measurement: closed loops (peak throughput), open loops (latency at a given rate),
 * and one scenario's row: ops/s per vCPU of the measured process's own CPU, Postgres CPU,
 * database round trips, latency and the scenario's peak RSS.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, peakRssMiB, postgresCpu, postgresCpuSince, resetPeakRss, rssMiB, threadCpu } from './system.ts';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `count` operations, `concurrency` at a time (closed loop). Latencies in ms, wall seconds. */
export async function closedLoop(count: number, concurrency: number, one: (i: number) => Promise<void>) {
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

/**
 * Operations started at a fixed rate for `seconds` (open loop): latency from the planned start.
 * `lagP99`: how late (p99, ms) this process itself started operations; when it is large the
 * generator, not the server, set the pace, and the latencies measure the generator.
 */
export async function openLoop(rate: number, seconds: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  const lags: number[] = [];
  const failures: unknown[] = [];
  const total = Math.max(1, Math.round(rate * seconds));
  const started = performance.now();
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < total; i += 1) {
    const planned = started + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 0) await sleep(wait);
    lags.push(performance.now() - planned);
    // Caught at once: a failure while later operations are still being started would otherwise
    // end the process unhandled, leaving kapu and the bare provider running.
    running.push(one(i).then(() => void latencies.push(performance.now() - planned), (err: unknown) => void failures.push(err)));
  }
  await Promise.all(running);
  // A failure under load (a request that timed out in the server's queue) is a result to report,
  // not a reason to lose the run's other figures.
  const failed = failures.length === 0 ? null : { count: failures.length, of: total, first: failures[0] instanceof Error ? failures[0].message : String(failures[0]) };
  return { latencies: latencies.sort((a, b) => a - b), lagP99: percentile(lags.sort((a, b) => a - b), 99), failed };
}

export interface Measured {
  scenario: string;
  n: number;
  perSecond: number;
  perVcpu: number;
  cpuMs: number;
  /** Of the process's CPU: the event loop's, and the libuv pool's (argon2). */
  eventLoopCpuMs: number;
  poolCpuMs: number;
  postgresCpuMs: number;
  transactions: number | null;
  statements: number | null;
  p50: number;
  p99: number;
  p99at70: number | null;
  /** How late the generator started the open loop's operations (p99, ms). */
  lagAt70: number | null;
  /** Operations of the open loop that failed (and the first failure's message), or null. */
  failedAt70: { count: number; of: number; first: string } | null;
  /** The process's peak RSS during this scenario's warm-up and closed loop (its peak rate). */
  peakRss: number | null;
  /** …and during the open loop at 70 % too (higher when the generator fell behind and sent bursts). */
  peakRssOpen: number | null;
}

/** The process under measurement and how to read its database counts (none for the bare provider). */
export interface Target {
  process: ChildProcess;
  /** kapu's metrics listener: its count of statements sent. */
  metricsUrl: string | null;
  /** Postgres's own count of the database's transactions (pg_stat_database), or null. */
  transactions: (() => Promise<number>) | null;
}

export interface MeasureOptions {
  concurrency: number;
  /** Seconds of the open-loop run at 70 % of the peak; 0: none. */
  latencySeconds: number;
  warmup?: number;
}

/** kapu's own count of statements sent to the database, from its metrics listener (none: null). */
async function statementsSent(metricsUrl: string | null): Promise<number | null> {
  if (metricsUrl === null) return null;
  const text = await fetch(`${metricsUrl}/metrics`).then((r) => r.text());
  const m = /^kapu_db_statements_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** CPU seconds process `pid` spends on `count` operations run in a closed loop. */
export async function cpuFor(pid: number, count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<number> {
  const before = cpuSeconds(pid)!;
  await closedLoop(count, concurrency, one);
  return cpuSeconds(pid)! - before;
}

export async function measure(name: string, target: Target, count: number, one: (i: number) => Promise<void>, options: MeasureOptions): Promise<Measured> {
  const pid = target.process.pid!;
  resetPeakRss(pid);
  let i = 0;
  const next = () => one(i++);
  // Enough to let the JIT settle: the first hundred requests of a path run slower code.
  await closedLoop(options.warmup ?? Math.min(100, count), options.concurrency, next);
  // Postgres publishes a backend's counts when it goes idle, up to 10 s later: quiet first.
  if (target.transactions) await sleep(11_000);
  const cpu0 = cpuSeconds(pid)!;
  const threads0 = threadCpu(pid);
  const pg0 = postgresCpu();
  const xact0 = target.transactions ? await target.transactions() : 0;
  const stmt0 = await statementsSent(target.metricsUrl);
  const { latencies, seconds } = await closedLoop(count, options.concurrency, next);
  const cpu = cpuSeconds(pid)! - cpu0;
  const threads1 = threadCpu(pid);
  const threadMs = (thread: string) => (((threads1.get(thread) ?? 0) - (threads0.get(thread) ?? 0)) * 1000) / count;
  const postgres = postgresCpuSince(pg0);
  const stmt1 = await statementsSent(target.metricsUrl);
  let xact: number | null = null;
  if (target.transactions) {
    await sleep(11_000);
    xact = (await target.transactions()) - xact0;
  }
  const perSecond = count / seconds;
  const peakRss = peakRssMiB(pid);
  let p99at70: number | null = null;
  let lagAt70: number | null = null;
  let failedAt70: Measured['failedAt70'] = null;
  if (options.latencySeconds > 0) {
    const open = await openLoop(0.7 * perSecond, options.latencySeconds, next);
    p99at70 = open.latencies.length > 0 ? percentile(open.latencies, 99) : null;
    lagAt70 = open.lagP99;
    failedAt70 = open.failed;
  }
  const row: Measured = {
    scenario: name,
    n: count,
    perSecond,
    perVcpu: count / cpu,
    cpuMs: (cpu * 1000) / count,
    eventLoopCpuMs: threadMs('node'),
    poolCpuMs: threadMs('libuv-worker'),
    postgresCpuMs: (postgres * 1000) / count,
    transactions: xact === null ? null : xact / count,
    // The two /metrics scrapes themselves are not statements; the difference is the load's.
    statements: stmt0 !== null && stmt1 !== null ? (stmt1 - stmt0) / count : null,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p99at70,
    lagAt70,
    failedAt70,
    peakRss,
    peakRssOpen: peakRssMiB(pid),
  };
  process.stderr.write(`  ${name}: ${row.perVcpu.toFixed(1)}/s per vCPU (${row.cpuMs.toFixed(2)} ms CPU/op), ${row.transactions?.toFixed(1) ?? '—'} xact/op, ${row.statements?.toFixed(1) ?? '—'} statements/op, RSS ${rssMiB(pid)?.toFixed(0)} MiB (peak ${row.peakRss?.toFixed(0)})\n`);
  return row;
}
