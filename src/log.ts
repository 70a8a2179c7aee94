/**
 * pino JSON logs. Redaction is a second line of defence: kapu never passes secrets to the
 * logger in the first place, but if a header or body slipped in, these paths are censored.
 */
import { pino, type Logger } from 'pino';

export const REDACT_PATHS = [
  'password',
  '*.password',
  'code',
  '*.code',
  'secret',
  '*.secret',
  'token',
  '*.token',
  '*.authorization',
  '*.cookie',
  '*["set-cookie"]',
  'client_secret',
  '*.client_secret',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kapu' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream | undefined,
  );
}

export type { Logger };

/**
 * The access log's logger: the same destination, level and bindings as `log`, without its
 * redaction. The access line is made of fixed fields only (method, the path without its query,
 * status, time, the ids kapu set), never of a request's content, so there is nothing to censor;
 * and redaction (a clone and a walk of every object logged) was the largest single cost kapu
 * added to a discovery request in a perf profile.
 */
export function accessLogger(log: Logger): Logger {
  const stream = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return pino({ level: log.level, base: null, timestamp: pino.stdTimeFunctions.isoTime }, stream).child(log.bindings());
}
