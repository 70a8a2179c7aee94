/**
 * Per request: an id (the load balancer's X-Request-Id when it looks sane, else a new one),
 * a child logger carrying it, baseline security headers, and one access-log line. The log
 * line has the path without its query string: queries can carry codes and tokens.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { type Logger, accessLogger } from '../log.ts';

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(log: Logger, observe?: (ctx: Context, seconds: number) => void) {
  const access = accessLogger(log);
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get('X-Request-Id');
    const reqId = SANE_REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state['reqId'] = reqId;
    // Made when first asked for (an error to log): a child logger costs a redaction pass.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { configurable: true, enumerable: true, get: () => (child ??= log.child({ reqId })) });
    ctx.set('X-Request-Id', reqId);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (ctx.protocol === 'https') ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      observe?.(ctx, seconds);
      access.info(
        {
          reqId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(seconds * 1000),
          interactionUid: ctx.state['interactionUid'],
          accountId: ctx.state['accountId'],
        },
        'request',
      );
    }
  };
}
