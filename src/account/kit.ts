/**
 * What the portal's router (src/account/routes.ts) lends the route files of its parts
 * (src/account/email-routes.ts, factor-routes.ts, password-routes.ts): the page a request is on, and the
 * helpers every part's routes use. Its own file, so the router and its parts never import each
 * other.
 */
import type { Context, Middleware } from 'koa';
import type { Who } from '../auth/who.ts';
import type { Result } from '../auth/result.ts';
import type { PortalSession } from '../auth/portal-sessions.ts';
import type { FormFields, Notice } from '../factors/factor.ts';
import type { Lang } from '../views.ts';

/** What every page needs: the request, its language, the form token, the session if any. */
export interface Page {
  ctx: Context;
  lang: Lang;
  csrf: string;
  session: PortalSession | null;
}

export type SignedInPage = Page & { session: PortalSession };

/** What the portal's router lends its parts. */
export interface PortalKit {
  form: Middleware;
  signedIn: (handler: (p: SignedInPage, fields: FormFields) => Promise<void>) => (ctx: Context) => Promise<void>;
  /** Pages for anyone, signed in or not (a forgotten password's): a POST's form token checked first. */
  anyone: (handler: (p: Page, fields: FormFields) => Promise<void>) => (ctx: Context) => Promise<void>;
  render(p: Page, template: string, titleKey: string, data?: Record<string, unknown>, status?: number, scripts?: boolean): void;
  seeOther(ctx: Context, location: string): void;
  idParam(ctx: Context): string;
  text(fields: FormFields, name: string): string;
  who(p: Page): Who;
  /** The HTTP status of a refusal. */
  refusedStatus(done: Extract<Result, { ok: false }>): number;
  /** An emailed code's lifetime in minutes, as the pages say it (CODE_TTL_SECONDS). */
  codeMinutes: number;
}

/** What a redirect may ask a page to say (?notice=…), from this fixed list only. */
const MAILED_NOTICES = new Set(['email.sent', 'email.resent']);

/** The notice a redirect asked a proof page to show (`?notice=email.sent|email.resent`: a code was mailed), or null. */
export function mailedNotice(ctx: Context): Notice | null {
  const asked = ctx.query['notice'];
  return typeof asked === 'string' && MAILED_NOTICES.has(asked) ? { key: asked } : null;
}

/** A factor the citizen set up: its own words say so (`account.enrolled_<id>`, `…_before` for a form sent again). */
export const enrolledNotice = (factorId: string, before = false): string => `account.enrolled_${factorId}${before ? '_before' : ''}`;
