/** /healthz: the process is alive. /readyz: the database answers (503 when it does not). */
import Router from '@koa/router';
import { withTimeout } from '../clock.ts';
import type { Deps } from '../deps.ts';
import { pingDb } from '../deps.ts';

export function healthRoutes(deps: Pick<Deps, 'db' | 'log' | 'transport' | 'devMailbox'>): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      // Inside a second: a probe must get an answer, not wait for a stuck pool.
      await withTimeout(pingDb(deps.db), 800, 'database ping');
      ctx.body = { status: 'ready', database: 'ok' };
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'not ready: database unreachable');
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable' };
    }
  });
  return router;
}
