/** kapu's log, kept as parsed lines for a test to read (pino JSON, one object per line). */
import { Writable } from 'node:stream';
import { type Logger, createLogger } from '../../src/log.ts';

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, unknown>>;
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger(level, stream) };
}
