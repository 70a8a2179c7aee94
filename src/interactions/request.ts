/**
 * What every sign-in request must show before the core is asked anything: that this browser
 * owns the interaction (oidc-provider's signed interaction cookie, scoped to its path), and for
 * a form, that the form is one kapu served for it (a CSRF token bound to the interaction).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Who } from '../auth/who.ts';
import type { Deps } from '../deps.ts';
import { CsrfFailed, SessionExpired } from '../errors.ts';
import type { FormFields } from '../factors/factor.ts';
import { browserOf } from '../http/browser.ts';
import { FLOW_COOKIE, deviceOf, getCookie } from '../http/cookies.ts';
import { chosenLang, preferredLang } from '../http/page.ts';
import { DEFAULT_LANG } from '../views.ts';

export interface InteractionEnv {
  deps: Deps;
  provider: Provider;
}

/**
 * The sign-in uid of the request, once the browser has shown it owns it: oidc-provider's
 * interaction cookie for a sign-in at an RP, kapu's flow cookie for one at the portal; both
 * are signed and scoped to the sign-in's path.
 */
export function ownedInteraction(ctx: Context, env: InteractionEnv): string {
  const uid = ctx.params['uid'];
  const owned = ctx.cookies.get(env.provider.cookieName('interaction'), { signed: true }) ?? getCookie(ctx, FLOW_COOKIE);
  if (typeof uid !== 'string' || !owned || owned !== uid) throw new SessionExpired();
  ctx.state['interactionUid'] = uid;
  return uid;
}

/** The CSRF token kapu puts in every form of the interaction `uid`. */
export function csrfToken(env: InteractionEnv, uid: string): string {
  return env.deps.box.mac('csrf', uid);
}

/** The submitted form, once its CSRF token proves kapu served it for this interaction. */
export function checkedForm(ctx: Context, env: InteractionEnv, uid: string): FormFields {
  const form = ((ctx.request as { body?: Record<string, unknown> }).body ?? {}) as FormFields;
  const token = Buffer.from(typeof form['csrf'] === 'string' ? form['csrf'] : '');
  // Any configured key's token is good: pages served before a key rotation still submit.
  const valid = env.deps.box.macs('csrf', uid).some((expected) => {
    const b = Buffer.from(expected);
    return token.length === b.length && timingSafeEqual(token, b);
  });
  if (!valid) throw new CsrfFailed();
  return form;
}

export function requester(ctx: Context): Who {
  const chosen = chosenLang(ctx);
  return { ip: ctx.ip, lang: chosen ?? preferredLang(ctx) ?? DEFAULT_LANG, langChosen: chosen !== null, browser: browserOf(ctx.get('User-Agent')), device: deviceOf(ctx) };
}
