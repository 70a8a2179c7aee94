/**
 * kapu's own cookies (oidc-provider keeps its own): all HttpOnly, SameSite=Lax, Secure behind
 * https, signed with COOKIE_KEYS.
 */
import type { Context } from 'koa';

/** The account portal's session: the token whose hash names the session row. */
export const PORTAL_SESSION_COOKIE = 'kapu_account';
/**
 * A browser that signed in to an account: `<accountId>.<random id>`, signed. Its password
 * guesses are counted on their own, so strangers' failures never lock it out.
 */
export const DEVICE_COOKIE = 'kapu_device';
const DEVICE_VALUE = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22,64})$/;
/** Kept for half a year after each sign-in. */
export const DEVICE_COOKIE_MS = 180 * 24 * 3600 * 1000;

/** The account and id this browser's device cookie names, when the cookie is kapu's. */
export function deviceOf(ctx: Context): { accountId: string; id: string } | null {
  const match = DEVICE_VALUE.exec(getCookie(ctx, DEVICE_COOKIE) ?? '');
  return match ? { accountId: match[1]!, id: match[2]! } : null;
}

/**
 * Makes this browser one that signed in to `accountId` before (a sign-in finished here, a mailed
 * unlock link or a forgotten password completed here): it keeps its id when it already was one
 * of this account's, so its own count of guesses goes on.
 */
export function rememberDevice(ctx: Context, accountId: string, newId: () => string): void {
  const known = deviceOf(ctx);
  const id = known?.accountId === accountId ? known.id : newId();
  setCookie(ctx, DEVICE_COOKIE, `${accountId}.${id}`, { path: '/', maxAgeMs: DEVICE_COOKIE_MS });
}

/**
 * The browser a mailed unlock link is bound to: a random value set when the link is asked for,
 * sent back only to the link's path. A link opened without it does nothing.
 */
export const UNLOCK_BINDING_COOKIE = 'kapu_unlock';

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
