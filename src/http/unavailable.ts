/**
 * The answer while the database is away (src/db/faults.ts), on kapu's pages and the provider's
 * endpoints alike: 503 with Retry-After, a page that says to try again in a minute (JSON, as
 * OAuth's `temporarily_unavailable`, for those who speak JSON), and a log line with the cause.
 *
 * Nothing of the failed request is kept, so a sign-in goes on when the database is back: the
 * browser's cookies are left as they were (no Set-Cookie of the failed request reaches it), and
 * the sign-in's state is in the database, untouched. The retry link leads back to the page the
 * citizen was on (a form's sign-in page, not the form's POST address).
 */
import type { Context } from 'koa';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from './page.ts';

/**
 * What Retry-After asks of a client. Shorter than the minute the page speaks of: an RP that
 * retries its code exchange after it still finds the code alive (codes live 60 s).
 */
export const UNAVAILABLE_RETRY_SECONDS = 30;

const INTERACTION = /^\/interaction\/([^/]+)/;

export function answerUnavailable(ctx: Context, deps: Pick<Deps, 'views' | 'log'>, cause: unknown, json: boolean): void {
  // kapu's routes have a logger that carries the request id; the provider's context does not.
  const log = (ctx.state['log'] as Deps['log'] | undefined) ?? deps.log.child({ reqId: ctx.state['reqId'] });
  log.error({ err: cause, path: ctx.path, status: 503 }, 'database unavailable: answered 503');
  ctx.remove('Location');
  ctx.remove('Set-Cookie');
  ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
  ctx.set('Cache-Control', 'no-store');
  if (json) {
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly', request_id: ctx.state['reqId'] };
    return;
  }
  const uid = INTERACTION.exec(ctx.path)?.[1];
  renderPage(
    ctx,
    deps.views,
    'unavailable',
    // The language link keeps the sign-in's address; elsewhere it would drop the request's own query.
    { titleKey: 'unavailable.title', retry: retryUrl(ctx, uid), code: 'temporarily_unavailable', uid, langSwitch: uid !== undefined },
    { lang: resolveLang(ctx), status: 503 },
  );
}

/** Where "try again" leads: the same address for a GET, the sign-in's (or the portal's) page after a form. */
function retryUrl(ctx: Context, uid: string | undefined): string | null {
  if (uid) return ctx.method === 'GET' && ctx.path === `/interaction/${uid}` ? ctx.originalUrl : `/interaction/${uid}`;
  // Only a path of this site: never `//host` or `/\host`, which a browser takes for another site.
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return /^\/(?![/\\])/.test(ctx.originalUrl) ? ctx.originalUrl : null;
  return ctx.path.startsWith('/account') ? '/account' : null;
}
