/**
 * buildApp: the Koa application — kapu's own routes in front, oidc-provider behind them.
 * It never listens; main.ts and the tests do.
 */
import Koa from 'koa';
import compose from 'koa-compose';
import type Provider from 'oidc-provider';
import type { Deps } from './deps.ts';
import { assetRoutes } from './http/assets.ts';
import { demoRoutes } from './demo/routes.ts';
import { devMailboxRoutes } from './http/dev-mailbox.ts';
import { errorHandler } from './http/errors.ts';
import { healthRoutes } from './http/health.ts';
import { guardProviderRequest, guardRequestLine } from './http/input-guard.ts';
import { pinToIssuer, providerPageHeaders } from './http/issuer.ts';
import { metricsRoutes } from './http/metrics.ts';
import { requestContext } from './http/request.ts';
import { interactionRoutes } from './interactions/routes.ts';
import { unlockLinkRoutes } from './interactions/unlock.ts';
import { clientLogoRoutes } from './oidc/client-logo-routes.ts';
import { developerRoutes } from './oidc/developers.ts';
import { accountRoutes } from './account/routes.ts';

export function buildApp(deps: Deps, provider: Provider): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy, maxIpsCount: deps.config.proxyHops });
  app.keys = deps.config.cookieKeys;
  // Errors are handled by errorHandler (kapu's routes) and renderError (the provider's);
  // Koa's own default handler would print them to stderr.
  app.silent = true;

  app.use(requestContext(deps.log, (ctx, seconds) => deps.metrics.observeRequest(ctx, seconds)));
  app.use(pinToIssuer(deps.config));
  const routers = [healthRoutes(deps), assetRoutes(), clientLogoRoutes(deps.clientLogos), developerRoutes(deps), interactionRoutes(deps, provider), unlockLinkRoutes(deps), accountRoutes(deps)];
  // A factor's own routes (the DÁP app's device API and reference app).
  for (const module of deps.factorModules) routers.push(...(module.routes?.(deps.factorDeps) ?? []));
  // /metrics lives on its own listener (src/http/metrics-server.ts) unless METRICS_PORT=public.
  if (deps.config.metricsPort === null) routers.push(metricsRoutes(deps.metrics));
  if (deps.devMailbox) routers.push(devMailboxRoutes(deps.devMailbox, deps.views));
  if (deps.config.demo) routers.push(demoRoutes(deps));

  // Router middleware is typed for router contexts; in this chain they are plain Koa middleware.
  const ownRoutes = routers.flatMap((r) => [r.routes(), r.allowedMethods()]) as unknown as Koa.Middleware[];
  // A path is kapu's when one of its routers has a route for it (any method: a wrong one gets
  // kapu's 405); everything else is the provider's. Asking every router costs a discovery
  // request more than the rest of kapu's front: the provider's paths are remembered (a bounded
  // set, emptied when full, so made-up paths cannot grow it).
  const providers = new Set<string>();
  const isOwn = (path: string) => {
    if (providers.has(path)) return false;
    if (routers.some((r) => r.match(path, 'GET').path.length > 0)) return true;
    if (providers.size >= 500) providers.clear();
    providers.add(path);
    return false;
  };
  const handleOwn = compose([errorHandler(deps), guardRequestLine(), ...ownRoutes]);
  // Bad input for the provider is refused before the provider (and so the database) sees it.
  const guardProvider = compose([
    errorHandler(deps, { answersNotFound: false }),
    async (ctx: Koa.Context, next: Koa.Next) => {
      await guardProviderRequest(ctx);
      await next();
    },
  ]);
  // The provider runs in a Koa context of its own: it gets this request's id (its error pages
  // show it), and a path it has no route for gets kapu's 404 page, not a bare "Not Found".
  const notFound = errorHandler(deps);
  provider.use(async (ctx, next) => {
    ctx.state['reqId'] = ctx.response.get('X-Request-Id') || undefined;
    await next();
    if (ctx.status === 404 && ctx.body == null) await notFound(ctx, async () => {});
  });
  provider.use(providerPageHeaders());
  // Every 5xx the provider answers is logged with its error by its fault guard (src/oidc/faults.ts).
  const handleProvider = provider.callback();

  app.use(async (ctx, next) => {
    if (isOwn(ctx.path)) return handleOwn(ctx, next);
    // oidc-provider answers everything else (discovery, /auth, /token, /jwks, /me, …).
    let refused = true;
    await guardProvider(ctx, async () => {
      refused = false;
    });
    if (refused) return;
    ctx.respond = false;
    await handleProvider(ctx.req, ctx.res);
  });
  return app;
}
