/**
 * The one error handler for kapu's own routes: a KapuError becomes its status with a page (or
 * JSON for API clients); the database being away, a 503 to try again; anything else becomes a
 * 500 with a generic page and a request id. No stack trace, exception text or secret ever
 * reaches the response.
 */
import type { Context, Next } from 'koa';
import { isDatabaseUnavailable } from '../db/faults.ts';
import { KapuError } from '../errors.ts';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from './page.ts';
import { answerUnavailable } from './unavailable.ts';

/**
 * `answersNotFound: false` for a guard in front of another handler (the provider): there, a
 * request nothing has answered yet is not a 404, it is one to pass on.
 */
export function errorHandler(deps: Pick<Deps, 'views' | 'log'>, { answersNotFound = true }: { answersNotFound?: boolean } = {}) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (answersNotFound && ctx.status === 404 && ctx.body === undefined) throw new KapuError('not_found', 404, 'error.not_found');
    } catch (err) {
      const wantsJson = ctx.accepts('html', 'json') === 'json';
      // The database is away: 503, try again (src/http/unavailable.ts), not a 500.
      if (isDatabaseUnavailable(err)) return answerUnavailable(ctx, deps, err, wantsJson);
      const known = err instanceof KapuError ? err : fromHttpError(err);
      const log = (ctx.state['log'] as typeof deps.log | undefined) ?? deps.log;
      if (known.status >= 500) log.error({ err }, 'request failed');
      else log.info({ code: known.code, status: known.status, cause: causeName(known) }, 'request refused');
      ctx.remove('Location');
      if (wantsJson) {
        ctx.status = known.status;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: known.code, request_id: ctx.state['reqId'] };
        return;
      }
      const lang = resolveLang(ctx);
      // A step posted out of turn (Back button, double click): offer the flow's current page.
      const uid = ctx.state['interactionUid'] as string | undefined;
      const continueUrl = known.code === 'wrong_step' && uid ? `/interaction/${uid}` : null;
      renderPage(ctx, deps.views, 'error', { titleKey: 'error.title', messageKey: known.messageKey, code: known.code, continueUrl }, { lang, status: known.status });
    }
  };
}

/** Koa/http-errors style errors (status + expose) from libraries; everything else is a 500. */
function fromHttpError(err: unknown): KapuError {
  const e = err as { status?: unknown; expose?: unknown };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const code = e.status === 413 ? 'payload_too_large' : e.status === 404 ? 'not_found' : 'bad_request';
    const key = e.status === 413 ? 'error.too_large' : e.status === 404 ? 'error.not_found' : 'error.bad_request';
    return new KapuError(code, e.status, key, { cause: err });
  }
  return new KapuError('server_error', 500, 'error.generic', { cause: err, expose: false });
}

function causeName(err: KapuError): string | undefined {
  return err.cause instanceof Error ? err.cause.name : undefined;
}
