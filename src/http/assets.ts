/** The stylesheet and the one small script, served by kapu itself: pages load nothing from elsewhere. */
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

const ASSETS = {
  '/assets/kapu.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('../../views/assets/kapu.css', import.meta.url)) },
  '/assets/kapu.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('../../views/assets/kapu.js', import.meta.url)) },
};

export function assetRoutes(): Router {
  const router = new Router();
  for (const [path, asset] of Object.entries(ASSETS)) {
    router.get(path, (ctx) => {
      ctx.type = asset.type;
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = asset.body;
    });
  }
  return router;
}
