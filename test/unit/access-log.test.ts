/**
 * One access line per request (src/http/request.ts), written where the rest of the log goes:
 * fixed fields only (the path without its query), while what routes log through the request's
 * logger is still redacted.
 */
import type { Context } from 'koa';
import { requestContext } from '../../src/http/request.ts';
import type { Logger } from '../../src/log.ts';
import { captureLog } from '../helpers/captured-log.ts';

function fakeContext(path: string, query: string): Context {
  const headers = new Map<string, string>();
  return {
    method: 'GET',
    path,
    querystring: query,
    status: 200,
    protocol: 'http',
    state: {},
    get: () => '',
    set: (name: string, value: string) => void headers.set(name, value),
  } as unknown as Context;
}

describe('the access log', () => {
  test('a request is logged once, with its id and the path without its query, in the same log as the rest', async () => {
    const captured = captureLog();
    const ctx = fakeContext('/interaction/abc/verify', 'code=123456');
    await requestContext(captured.log)(ctx, async () => {
      (ctx.state['log'] as Logger).info({ password: 'titok jelszo' }, 'a route speaks');
    });
    await captured.waitFor('request');
    const [route, access] = captured.lines;
    expect(route).toMatchObject({ msg: 'a route speaks', reqId: ctx.state['reqId'], password: '[redacted]', service: 'kapu' });
    expect(access).toMatchObject({ msg: 'request', reqId: ctx.state['reqId'], method: 'GET', path: '/interaction/abc/verify', status: 200, service: 'kapu' });
    expect(JSON.stringify(captured.lines)).not.toContain('123456');
    expect(JSON.stringify(captured.lines)).not.toContain('titok');
  });
});
