/**
 * Is this error the database being away (stopped, restarting, unreachable, out of
 * connections), rather than something wrong with the request or with kapu? Such a fault passes
 * by itself: the request can be answered 503 and tried again, while any other error is a 500.
 *
 * Postgres says so with a SQLSTATE (class 08, connection exception; 57P01–57P03, shut down or
 * starting; 53300, too many connections); the `pg` driver with a socket error code or one of
 * its own messages, when there is no server to say anything. Errors are looked into through
 * their `cause`s (kapu's errors keep the one they stand for).
 */

const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
/** The `pg` driver's and pool's own words for a connection that is gone or never came. */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout expired',
];

export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  // Errors are read by their shape, not `instanceof Error`: the socket's come from Node's own
  // realm, which need not be the caller's (a test runner's sandbox).
  for (let e = err as Shape | undefined; typeof e === 'object' && e !== null && !seen.has(e); e = e.cause as Shape | undefined) {
    seen.add(e);
    const { code, message, errors } = e;
    if (typeof code === 'string' && ((code.length === 5 && code.startsWith('08')) || SQLSTATES.has(code) || SOCKET_CODES.has(code))) return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.some((m) => message.startsWith(m))) return true;
    if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

interface Shape {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  /** AggregateError's (a connection tried at several addresses). */
  errors?: unknown;
}
