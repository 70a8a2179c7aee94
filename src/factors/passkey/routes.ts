/** The passkey's own HTTP route: the page parts' script, served by kapu itself. */
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

/** Where kapu serves the page parts' script (its CSP allows kapu's own scripts on their pages). */
export const SCRIPT_PATH = '/assets/passkey.js';

const SCRIPT = readFileSync(new URL('assets/passkey.js', import.meta.url));

/** The page parts' script, served by kapu itself (pages load nothing from elsewhere). */
export function scriptRoutes(): Router {
  const router = new Router();
  router.get(SCRIPT_PATH, (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = SCRIPT;
  });
  return router;
}
