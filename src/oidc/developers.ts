/** /developers: what an RP developer needs to know (discovery's `service_documentation`). */
import Router from '@koa/router';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { AUTH_METHODS } from './client-metadata.ts';

export const DEVELOPERS_PATH = '/developers';

export function developerRoutes(deps: Pick<Deps, 'views' | 'config' | 'acr'>): Router {
  const router = new Router();
  router.get(DEVELOPERS_PATH, (ctx) => {
    renderPage(
      ctx,
      deps.views,
      'developers',
      { titleKey: 'developers.title', issuer: deps.config.issuer, authMethods: AUTH_METHODS, acrValues: deps.acr.values },
      { lang: resolveLang(ctx) },
    );
  });
  return router;
}
