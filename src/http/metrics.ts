/** GET /metrics: the registry's figures (src/metrics.ts), in Prometheus' text format, never cached. */
import Router from '@koa/router';
import type { Metrics } from '../metrics.ts';

export function metricsRoutes(metrics: Metrics): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
