/**
 * /healthz: the process is alive. /readyz: the database answers (503 when it does not); the body
 * also names the mail server's state, which does not decide readiness: without mail a replica
 * still serves (the app, the pages, discovery), and mail waits in the outbox.
 */
import Router from '@koa/router';
import { withTimeout } from '../clock.ts';
import type { Deps } from '../deps.ts';
import { pingDb } from '../deps.ts';
import type { SmtpState } from '../mail/smtp-status.ts';

/** The mail server as /readyz names it. */
const MAIL_STATE: Record<SmtpState, string> = { up: 'ok', down: 'unreachable', unknown: 'checking' };

export function healthRoutes(deps: Pick<Deps, 'db' | 'log' | 'transport' | 'devMailbox' | 'smtp'>): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const mail = MAIL_STATE[deps.smtp.state];
    try {
      // Inside a second: a probe must get an answer, not wait for a stuck pool.
      await withTimeout(pingDb(deps.db), 800, 'database ping');
      ctx.body = { status: 'ready', database: 'ok', mail };
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'not ready: database unreachable');
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable', mail };
    }
  });
  return router;
}
