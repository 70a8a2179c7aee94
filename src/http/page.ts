/**
 * Rendering a page: language choice, a strict Content-Security-Policy, no caching.
 *
 * Language, first that applies: a choice made in this sign-in (the language link: ?lang=,
 * then kept for the sign-in in a cookie scoped to its path) → the RP's ui_locales → the
 * remembered choice of an earlier visit (a cookie) → the browser's Accept-Language → Hungarian.
 */
import type { Context } from 'koa';
import type { Views } from '../views.ts';
import { DEFAULT_LANG, type Lang, isLang, pickLang } from '../views.ts';

/** The remembered choice (a year, every path). */
export const LANG_COOKIE = 'kapu_lang';
/** The choice made during one sign-in, scoped to its /interaction/<uid> path (a session cookie). */
export const FLOW_LANG_COOKIE = 'kapu_lang_flow';
const REMEMBER_MS = 365 * 24 * 3600 * 1000;
const INTERACTION_PATH = /^\/interaction\/[^/]+/;

export function resolveLang(ctx: Context, uiLocales?: string | null): Lang {
  return chosenLang(ctx) ?? pickLang(uiLocales) ?? preferredLang(ctx) ?? DEFAULT_LANG;
}

/**
 * A language the person chose for what they are doing now: ?lang= (remembered in cookies), or
 * the one chosen earlier in this sign-in. It outranks the RP's ui_locales.
 */
export function chosenLang(ctx: Context): Lang | null {
  const asked = ctx.query['lang'];
  if (typeof asked === 'string' && isLang(asked)) {
    const options = { httpOnly: true, sameSite: 'lax' as const, secure: ctx.protocol === 'https', signed: false, overwrite: true };
    ctx.cookies.set(LANG_COOKIE, asked, { ...options, maxAge: REMEMBER_MS });
    const flowPath = INTERACTION_PATH.exec(ctx.path)?.[0];
    if (flowPath) ctx.cookies.set(FLOW_LANG_COOKIE, asked, { ...options, path: flowPath });
    return asked;
  }
  const inFlow = INTERACTION_PATH.test(ctx.path) ? ctx.cookies.get(FLOW_LANG_COOKIE, { signed: false }) : undefined;
  return isLang(inFlow) ? inFlow : null;
}

/** What the person prefers when nothing more specific says: the remembered choice, then the browser's languages. */
export function preferredLang(ctx: Context): Lang | null {
  const saved = ctx.cookies.get(LANG_COOKIE, { signed: false });
  if (isLang(saved)) return saved;
  return acceptedLang(ctx.get('Accept-Language'));
}

/** The supported language the Accept-Language header ranks highest (en-GB counts as en). */
export function acceptedLang(header: string | undefined): Lang | null {
  if (!header || header.length > 512) return null;
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    const lang = pickLang(tag);
    if (lang) return lang;
  }
  return null;
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
