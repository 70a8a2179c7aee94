/** Rendering a sign-in page, and sending the browser on. */
import type { Context } from 'koa';
import type { Shown, ShownClient } from '../auth/outcomes.ts';
import { originOf, renderPage } from '../http/page.ts';
import { logoPath } from '../oidc/client-logos.ts';
import { rememberService } from './ended.ts';
import { type InteractionEnv, csrfToken } from './request.ts';

/**
 * Pages that load kapu.js: a factor's and a setup's (a resend's countdown, a phone's approval),
 * and the choosers (an option the browser cannot use, WebAuthn where it has none, is shown by it).
 */
const SCRIPTED = new Set(['factor', 'enroll', 'method', 'factor-choice', 'upgrade']);

/** Renders `template` as a page of the sign-in `shown`: its uid, CSRF token, RP and language. */
export function renderSignInPage(ctx: Context, env: InteractionEnv, shown: Pick<Shown, 'uid' | 'lang' | 'client' | 'redirectUri'>, template: string, data: Record<string, unknown>, status = 200): void {
  // Should this sign-in's pages outlive it (Back, an old tab), they can still name the service.
  if (shown.client) rememberService(ctx, shown.uid, shown.client.id);
  renderPage(
    ctx,
    env.deps.views,
    template,
    { uid: shown.uid, csrf: csrfToken(env, shown.uid), client: shown.client ? nameOf(shown.client) : null, rp: shown.client ? serviceCard(shown.client) : null, notice: null, ...data },
    // A sign-in form's POST ends, through redirects, at the RP's redirect_uri.
    { lang: shown.lang, status, formTargets: originOf(shown.redirectUri), scripts: data['scripts'] === true || SCRIPTED.has(template) },
  );
}

/** Every move on in a sign-in is answered by a GET of where it leads (post/redirect/get). */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

function nameOf(client: ShownClient): string {
  return client.name ?? client.id;
}

/**
 * What every page of an RP's sign-in says first (views/_rp.eta): which service the citizen is
 * signing in to, with its logo from kapu's own address and a link to its home page, when the
 * operator gave them.
 */
function serviceCard(client: ShownClient): { name: string; logo: string | null; homepage: string | null } {
  return { name: nameOf(client), logo: client.logoSha256 ? logoPath(client.id, client.logoSha256) : null, homepage: client.homepage };
}
