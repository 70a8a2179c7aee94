/**
 * kapu's log, kept as parsed lines for a test to read (pino JSON, one object per line), as an
 * operator reads it: how often a message was written, and a way to wait (bounded) until it has
 * been written so many times.
 */
import { Writable } from 'node:stream';
import { type Logger, createLogger } from '../../src/log.ts';

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, unknown>>;
  /** How many lines carry exactly this message. */
  count(msg: string): number;
  /** Resolves once `msg` has been written at least `times` times; rejects after `timeoutMs`. */
  waitFor(msg: string, times?: number, timeoutMs?: number): Promise<void>;
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  let waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      waiters = waiters.filter((w) => {
        if (!w.check()) return true;
        w.resolve();
        return false;
      });
      done();
    },
  });
  const count = (msg: string) => lines.filter((l) => l['msg'] === msg).length;
  return {
    lines,
    log: createLogger(level, stream),
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
