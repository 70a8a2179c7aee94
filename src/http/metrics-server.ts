/**
 * /metrics on a listener of its own (METRICS_PORT, bound to METRICS_HOST: 127.0.0.1 unless the
 * operator opens it), so that the public listener never serves it: the scrape port stays inside
 * the operators' network whatever the load balancer forwards.
 */
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import type { Deps } from '../deps.ts';
import { metricsRoutes } from './metrics.ts';

export async function metricsServer(deps: Pick<Deps, 'metrics'>, port: number, host: string): Promise<Server> {
  const app = new Koa();
  app.silent = true;
  const router = metricsRoutes(deps.metrics);
  app.use(router.routes());
  app.use(router.allowedMethods());
  const server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    // An operator's mistake (the port taken, an address not on this machine) names the setting.
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`METRICS_PORT ${port} on METRICS_HOST ${host}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  return server;
}
