/** Rendering a sign-in page, and sending the browser on. */
import type { Context } from 'koa';
import type { Shown } from '../auth/outcomes.ts';
import { originOf, renderPage } from '../http/page.ts';
import { rememberService } from './ended.ts';
import { type InteractionEnv, csrfToken } from './request.ts';

/** Renders `template` as a page of the sign-in `shown`: its uid, CSRF token, RP and language. */
export function renderSignInPage(ctx: Context, env: InteractionEnv, shown: Pick<Shown, 'uid' | 'lang' | 'client' | 'redirectUri'>, template: string, data: Record<string, unknown>, status = 200): void {
  // Should this sign-in's pages outlive it (Back, an old tab), they can still name the service.
  if (shown.client) rememberService(ctx, shown.uid, shown.client.id);
  renderPage(
    ctx,
    env.deps.views,
    template,
    { uid: shown.uid, csrf: csrfToken(env, shown.uid), client: shown.client ? (shown.client.name ?? shown.client.id) : null, notice: null, ...data },
    // A sign-in form's POST ends, through redirects, at the RP's redirect_uri.
    // kapu.js counts a resend button's wait down (the page says the seconds without it), and asks how a phone's approval stands.
    { lang: shown.lang, status, formTargets: originOf(shown.redirectUri), scripts: data['scripts'] === true || template === 'factor' || template === 'enroll' },
  );
}

/** Every move on in a sign-in is answered by a GET of where it leads (post/redirect/get). */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
