/** The stylesheet, served by kapu itself: pages load nothing from anywhere else. */
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

const CSS = readFileSync(new URL('../../views/assets/kapu.css', import.meta.url));

export function assetRoutes(): Router {
  const router = new Router();
  router.get('/assets/kapu.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = CSS;
  });
  return router;
}
