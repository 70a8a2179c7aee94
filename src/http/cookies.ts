/**
 * kapu's own cookies (oidc-provider keeps its own): all HttpOnly, SameSite=Lax, Secure behind
 * https, signed with COOKIE_KEYS.
 */
import type { Context } from 'koa';

/** The account portal's session: the token whose hash names the session row. */
export const PORTAL_SESSION_COOKIE = 'kapu_account';
/** Who owns a portal sign-in flow (an RP's flow is owned through oidc-provider's cookie). */
export const FLOW_COOKIE = 'kapu_flow';

export function setCookie(ctx: Context, name: string, value: string | null, options: { path: string; expires?: Date; maxAgeMs?: number }): void {
  ctx.cookies.set(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.protocol === 'https',
    signed: true,
    overwrite: true,
    path: options.path,
    ...(options.expires && { expires: options.expires }),
    ...(options.maxAgeMs !== undefined && { maxAge: options.maxAgeMs }),
  });
}

export function getCookie(ctx: Context, name: string): string | undefined {
  return ctx.cookies.get(name, { signed: true });
}
