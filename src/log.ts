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
