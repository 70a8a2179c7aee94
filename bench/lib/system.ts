/**
 * Readings from /proc: CPU time of one process (all its threads, so argon2's libuv pool
 * counts too), CPU time of every Postgres process, and a process's peak resident memory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in seconds; null when the process is gone. */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces: fields are counted after its closing ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * CPU seconds of a process's threads, by thread name: `node` (the event loop), `libuv-worker`
 * (the pool that runs argon2), V8's helper threads. Threads that ended are not counted.
 */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

function commOf(pid: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * CPU seconds of every process named `postgres`, by pid. A backend that exits between two
 * readings takes its time with it, so connections must stay open across a measurement (kapu's
 * pool keeps them).
 */
export function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || commOf(entry) !== 'postgres') continue;
    const seconds = cpuSeconds(Number(entry));
    if (seconds !== null) out.set(Number(entry), seconds);
  }
  return out;
}

/** Postgres CPU seconds spent between two readings (new backends count from zero). */
export function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpu()) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Peak resident set size (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number): number | null {
  return statusMiB(pid, 'VmHWM');
}

/** Resident set size (VmRSS) of a process now, in MiB. */
export function rssMiB(pid: number): number | null {
  return statusMiB(pid, 'VmRSS');
}

function statusMiB(pid: number, field: string): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Starts a new peak for peakRssMiB (Linux's clear_refs "5"), so that each scenario reports its
 * own peak rather than the largest since the process started. Where the kernel refuses, the
 * peak stays the process's.
 */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted here: peaks are then cumulative.
  }
}
