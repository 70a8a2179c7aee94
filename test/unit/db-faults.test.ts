/**
 * Which errors are the database being away (answered 503, to be tried again) and which are
 * not (a 500): src/db/faults.ts, on errors shaped as `pg`, Postgres and Node give them.
 */
import { isDatabaseUnavailable } from '../../src/db/faults.ts';
import { KapuError } from '../../src/errors.ts';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('the database away, told from other errors', () => {
  test.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a connection reset', withCode('read ECONNRESET', 'ECONNRESET')],
    ['an unknown database host', withCode('getaddrinfo ENOTFOUND db.internal', 'ENOTFOUND')],
    ['a connection dropped mid-query', new Error('Connection terminated unexpectedly')],
    ["the pool's wait for a connection", new Error('timeout exceeded when trying to connect')],
    ['a client broken earlier', new Error('Client has encountered a connection error and is not queryable')],
    ['Postgres shutting down', withCode('terminating connection due to administrator command', '57P01')],
    ['Postgres starting up', withCode('the database system is starting up', '57P03')],
    ['too many connections', withCode('sorry, too many clients already', '53300')],
    ['a connection exception (class 08)', withCode('connection failure', '08006')],
    ['any of those as the cause of kapu’s own error', new KapuError('session_expired', 400, 'error.session_expired', { cause: withCode('read ECONNRESET', 'ECONNRESET') })],
    ['any of those among several tries', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'all addresses failed')],
    ['an error of another realm (only its shape counts)', { message: 'read ECONNRESET', code: 'ECONNRESET' }],
  ])('%s is', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  test.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a deadlock (a bug to fix, not an outage)', withCode('deadlock detected', '40P01')],
    ['a syntax error', withCode('syntax error at or near "selec"', '42601')],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a pool closed on purpose', new Error('Cannot use a pool after calling end on the pool')],
    ['something thrown that is no error', 'ECONNRESET'],
    ['nothing', undefined],
  ])('%s is not', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  test('an error that is its own cause ends the search', () => {
    const looped = new Error('looped') as Error & { cause?: unknown };
    looped.cause = looped;
    expect(isDatabaseUnavailable(looped)).toBe(false);
  });
});
