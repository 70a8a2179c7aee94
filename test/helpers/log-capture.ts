/**
 * A log that a test reads as an operator would: every JSON line kapu writes, parsed, and a way
 * to wait (bounded) until a given message has been written so many times.
 */
import { Writable } from 'node:stream';
import { type Logger, createLogger } from '../../src/log.ts';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLog {
  log: Logger;
  lines: LogLine[];
  /** How many lines carry exactly this message. */
  count(msg: string): number;
  /** Resolves once `msg` has been written at least `times` times; rejects after `timeoutMs`. */
  waitFor(msg: string, times?: number, timeoutMs?: number): Promise<void>;
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: LogLine[] = [];
  let waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      waiters = waiters.filter((w) => {
        if (!w.check()) return true;
        w.resolve();
        return false;
      });
      done();
    },
  });
  const count = (msg: string) => lines.filter((l) => l.msg === msg).length;
  return {
    log: createLogger(level, stream),
    lines,
    count,
    waitFor(msg, times = 1, timeoutMs = 15_000) {
      const check = () => count(msg) >= times;
      if (check()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`log line "${msg}" not written ${times} time(s) within ${timeoutMs} ms (${count(msg)} so far)`)), timeoutMs);
        waiters.push({
          check,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
