/**
 * GET /clients/<client_id>/logo: a relying party's logo, served by kapu itself (its pages load
 * nothing from elsewhere). The pages ask for `?v=<hash>`, an address that only ever means these
 * bytes, so the browser keeps it for a year; without it (or with an old one) the browser must
 * ask again each time, and the ETag makes that cheap.
 */
import Router from '@koa/router';
import { NotFound } from '../errors.ts';
import { type ClientLogos, LOGO_ROUTE_PREFIX, logoVersion } from './client-logos.ts';
import { CLIENT_ID_PATTERN } from './client-metadata.ts';

export function clientLogoRoutes(logos: ClientLogos): Router {
  const router = new Router({ prefix: LOGO_ROUTE_PREFIX });
  router.get('/:clientId/logo', async (ctx) => {
    const clientId = ctx.params['clientId'] ?? '';
    const logo = CLIENT_ID_PATTERN.test(clientId) ? await logos.find(clientId) : undefined;
    if (!logo) throw new NotFound();
    const current = ctx.query['v'] === logoVersion(logo.sha256);
    ctx.set('ETag', `"${logo.sha256}"`);
    ctx.set('Cache-Control', current ? 'public, max-age=31536000, immutable' : 'no-cache');
    // The type kapu found by the bytes, and no second guess by the browser.
    ctx.set('X-Content-Type-Options', 'nosniff');
    // Opened on its own, it is an image and nothing more; only kapu's pages embed it.
    ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    ctx.type = logo.contentType;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = logo.bytes;
  });
  return router;
}
