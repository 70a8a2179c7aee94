/**
 * The unlock link's pages (src/auth/unlock.ts), thin like every sign-in route:
 * - asked for from a sign-in (`/interaction/:uid/unlock`, owned and CSRF-checked like its other
 *   forms): this browser gets a binding cookie, sent back only to the link's path;
 * - opened from the mail (`/unlock/:id?t=…`): with the binding cookie of the browser that
 *   asked, that browser becomes one that signed in to the account before (the device cookie).
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Shown } from '../auth/outcomes.ts';
import { BINDING, UNLOCK_PATH } from '../auth/unlock.ts';
import type { Deps } from '../deps.ts';
import { browserOf } from '../http/browser.ts';
import { UNLOCK_BINDING_COOKIE, getCookie, rememberDevice, setCookie } from '../http/cookies.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { renderSignInPage, seeOther } from './render.ts';
import { type InteractionEnv, checkedForm, ownedInteraction, requester } from './request.ts';
import { respond } from './respond.ts';

/** The handlers of `/interaction/:uid/unlock` (registered with the sign-in's other routes). */
export function unlockPages(env: InteractionEnv): { show: (ctx: Context) => Promise<void>; ask: (ctx: Context) => Promise<void> } {
  const { deps } = env;

  /** The sign-in the page belongs to (its language and RP), or null once it has been answered otherwise. */
  async function signIn(ctx: Context, uid: string): Promise<Shown | null> {
    const outcome = await deps.signIns.show(uid, requester(ctx), null);
    if (outcome.kind === 'show') return outcome.shown;
    await respond(ctx, env, outcome);
    return null;
  }

  const page = (ctx: Context, shown: Shown, data: { sent: string | null; notice: unknown }, status = 200) =>
    renderSignInPage(ctx, env, shown, 'unlock', { titleKey: 'unlock.title', minutes: deps.unlock.minutes, ...data }, status);

  return {
    async show(ctx) {
      const uid = ownedInteraction(ctx, env);
      const shown = await signIn(ctx, uid);
      if (!shown) return;
      // After a request: the tag its mail shows (three digits, no secret).
      const sent = typeof ctx.query['sent'] === 'string' && /^\d{3}$/.test(ctx.query['sent']) ? ctx.query['sent'] : null;
      page(ctx, shown, { sent, notice: sent ? { key: 'unlock.sent', vars: { tag: sent, minutes: deps.unlock.minutes } } : null });
    },
    async ask(ctx) {
      const uid = ownedInteraction(ctx, env);
      const form = checkedForm(ctx, env, uid);
      const shown = await signIn(ctx, uid);
      if (!shown) return;
      const kept = getCookie(ctx, UNLOCK_BINDING_COOKIE);
      const binding = kept && BINDING.test(kept) ? kept : deps.unlock.newBinding();
      const asked = await deps.unlock.ask(form['username'], { ip: ctx.ip, lang: shown.lang, browser: browserOf(ctx.get('User-Agent')) }, binding, uid);
      if (!asked.ok) return page(ctx, shown, { sent: null, notice: asked.notice }, REFUSAL_STATUS[asked.refusal]);
      setCookie(ctx, UNLOCK_BINDING_COOKIE, binding, { path: UNLOCK_PATH, maxAgeMs: deps.unlock.minutes * 60_000 });
      seeOther(ctx, `/interaction/${uid}/unlock?sent=${asked.tag}`);
    },
  };
}

/** `/unlock/:id`: the link from the mail. */
export function unlockLinkRoutes(deps: Deps): Router {
  const router = new Router();
  router.get(`${UNLOCK_PATH}/:id`, async (ctx) => {
    const lang = resolveLang(ctx);
    const who = { ip: ctx.ip, lang, browser: browserOf(ctx.get('User-Agent')) };
    const opened = await deps.unlock.open(ctx.params['id'], ctx.query['t'], getCookie(ctx, UNLOCK_BINDING_COOKIE), who);
    // The language link would drop the link's token: this page has none.
    const common = { langSwitch: false };
    if (!opened.ok) return renderPage(ctx, deps.views, 'unlock-done', { ...common, titleKey: 'unlock.failed_title', username: null, notice: { key: 'unlock.failed', error: true } }, { lang, status: 400 });
    ctx.state['accountId'] = opened.accountId;
    rememberDevice(ctx, opened.accountId, () => deps.random.bytes(18).toString('base64url'));
    const next = opened.flowId ? `/interaction/${opened.flowId}` : '/account';
    renderPage(ctx, deps.views, 'unlock-done', { ...common, titleKey: 'unlock.done_title', username: opened.username, next, notice: null }, { lang });
  });
  return router;
}
