/** /dev/mailbox: mail kept by the development mailbox (only without SMTP_URL, never in production). */
import Router from '@koa/router';
import type { DevMailbox } from '../mail/dev-mailbox.ts';
import type { Views } from '../views.ts';
import { renderPage, resolveLang } from './page.ts';

export function devMailboxRoutes(mailbox: DevMailbox, views: Views): Router {
  const router = new Router();
  router.get('/dev/mailbox', (ctx) => {
    renderPage(ctx, views, 'mailbox', { titleKey: 'mailbox.title', mails: mailbox.list() }, { lang: resolveLang(ctx) });
  });
  return router;
}
