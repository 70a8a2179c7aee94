/**
 * Rendering a page: language choice, a strict Content-Security-Policy, no caching.
 * Language: ?lang= (remembered in a cookie) → cookie → the RP's ui_locales → Hungarian.
 */
import type { Context } from 'koa';
import type { Views } from '../views.ts';
import { DEFAULT_LANG, type Lang, isLang, pickLang } from '../views.ts';

export const LANG_COOKIE = 'kapu_lang';

export function resolveLang(ctx: Context, uiLocales?: string | null): Lang {
  return chosenLang(ctx) ?? pickLang(uiLocales) ?? DEFAULT_LANG;
}

/** A language the person chose: ?lang= (remembered in a cookie), or the remembered one. */
export function chosenLang(ctx: Context): Lang | null {
  const asked = ctx.query['lang'];
  if (typeof asked === 'string' && isLang(asked)) {
    ctx.cookies.set(LANG_COOKIE, asked, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000, signed: false });
    return asked;
  }
  const saved = ctx.cookies.get(LANG_COOKIE, { signed: false });
  return isLang(saved) ? saved : null;
}

/**
 * CSP for kapu's pages: nothing external, no script but kapu's own where a page asks for it. `form-action` lists the origins a
 * form on the page may end up at: a sign-in form's POST is redirected on to the RP's
 * redirect_uri, and browsers check every hop of that chain against form-action.
 */
export function contentSecurityPolicy(formTargets: string[] = [], scripts = false): string {
  const formAction = ["'self'", ...new Set(formTargets)].join(' ');
  return [
    "default-src 'none'",
    "style-src 'self'",
    // Only kapu's own script, only on the pages that use it (progressive enhancement).
    ...(scripts ? ["script-src 'self'", "connect-src 'self'"] : []),
    "img-src 'self' data:",
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export interface PageOptions {
  status?: number;
  lang: Lang;
  formTargets?: string[];
  /** The page loads /assets/kapu.js. */
  scripts?: boolean;
}

export function renderPage(ctx: Context, views: Views, template: string, data: Record<string, unknown>, options: PageOptions): void {
  ctx.status = options.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Content-Security-Policy', contentSecurityPolicy(options.formTargets, options.scripts));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = views.render(template, options.lang, { ...data, scripts: options.scripts === true, requestId: ctx.state['reqId'] });
}

/** The origin of a URL, or nothing for a URL that does not parse. */
export function originOf(url: unknown): string[] {
  if (typeof url !== 'string') return [];
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? [] : [origin];
  } catch {
    return [];
  }
}
