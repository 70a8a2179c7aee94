/**
 * The provider's answer when something fails: the outermost of its middleware, mounted before
 * any other. oidc-provider turns an error inside an endpoint into a 500 of its own (a page
 * through renderError, or JSON) and announces it as `server_error`; what fails around the
 * endpoints (the key ring's refresh, the unit of work's writes at the end of a request) would
 * reach Koa's bare "Internal Server Error" and leave no line in kapu's log. Here:
 *
 * - the database away, wherever it surfaced: 503 with Retry-After, the page to try again (or
 *   `temporarily_unavailable` in JSON), cookies untouched (src/http/unavailable.ts);
 * - anything else around the endpoints: kapu's error page (or OAuth's `server_error` in JSON);
 * - every 5xx is logged once, with its error.
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/faults.ts';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { answerUnavailable } from '../http/unavailable.ts';

/** Where the provider's `server_error` event leaves its error for the way out. */
const FAULT = 'providerFault';

export function guardProviderFaults(provider: Provider, deps: Pick<Deps, 'views' | 'log'>): void {
  provider.on('server_error', (ctx: Context, err: unknown) => {
    ctx.state[FAULT] = err;
  });
  provider.use(async (ctx, next) => {
    // kapu's front middleware put the request's id on the response before the provider ran.
    ctx.state['reqId'] ??= ctx.response.get('X-Request-Id') || undefined;
    let fault: unknown;
    try {
      await next();
      if (!(FAULT in ctx.state)) return;
      fault = ctx.state[FAULT];
    } catch (err) {
      fault = err;
      answerServerError(ctx, deps);
    }
    // The provider asks the same question to choose between its page and its JSON.
    if (isDatabaseUnavailable(fault)) return answerUnavailable(ctx, deps, fault, ctx.accepts('json', 'html') !== 'html');
    deps.log.error({ err: fault, reqId: ctx.state['reqId'], path: ctx.path }, 'provider server error');
  });
}

/** An error that escaped the provider's endpoints: what its own handlers would have answered. */
function answerServerError(ctx: Context, deps: Pick<Deps, 'views'>): void {
  ctx.remove('Location');
  ctx.remove('Set-Cookie');
  ctx.set('Cache-Control', 'no-store');
  if (ctx.accepts('json', 'html') !== 'html') {
    ctx.status = 500;
    ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
    return;
  }
  renderPage(ctx, deps.views, 'error', { titleKey: 'error.title', messageKey: 'error.generic', code: 'server_error' }, { lang: resolveLang(ctx), status: 500 });
}
