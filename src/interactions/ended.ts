/**
 * A sign-in page that can no longer go on — the Back button after the citizen signed in or
 * cancelled, an old tab, an expired sign-in — says what happened in plain words and links back
 * to the service (its client_uri, else its post-logout address, else its site). The RP is known
 * from a cookie of the sign-in's own path, set while its pages were shown: the interaction
 * itself is gone by then. Without it, the general error page answers.
 */
import type { Context, Next } from 'koa';
import { SessionExpired } from '../errors.ts';
import { getCookie, setCookie } from '../http/cookies.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import type { InteractionEnv } from './request.ts';

const SERVICE_COOKIE = 'kapu_service';
/** How long after its last page a sign-in can still be explained (a day: a tab left open overnight). */
const SERVICE_COOKIE_MS = 24 * 3600 * 1000;
const INTERACTION_UID = /^\/interaction\/([^/]+)/;

export type Ending = 'done' | 'cancelled';

/** Remembers, on the sign-in's path, which RP asked (and, once over, how it ended). */
export function rememberService(ctx: Context, uid: string, clientId: string, ending?: Ending): void {
  setCookie(ctx, SERVICE_COOKIE, ending ? `${ending}:${clientId}` : `open:${clientId}`, { path: `/interaction/${uid}`, maxAgeMs: SERVICE_COOKIE_MS });
}

/** Marks the sign-in on this path as over: its pages then say so instead of "expired". */
export function rememberEnding(ctx: Context, uid: string, ending: Ending): void {
  const clientId = serviceOf(ctx)?.clientId;
  if (clientId) rememberService(ctx, uid, clientId, ending);
}

function serviceOf(ctx: Context): { clientId: string; state: string } | undefined {
  const value = getCookie(ctx, SERVICE_COOKIE);
  const match = value ? /^(open|done|cancelled):(.+)$/.exec(value) : null;
  return match ? { state: match[1]!, clientId: match[2]! } : undefined;
}

/** Middleware for the sign-in routes: an expired or finished sign-in is explained, not just refused. */
export function explainEnded(env: InteractionEnv) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof SessionExpired) || ctx.accepts('html', 'json') === 'json' || !(await explain(ctx, env))) throw err;
    }
  };
}

async function explain(ctx: Context, env: InteractionEnv): Promise<boolean> {
  const uid = INTERACTION_UID.exec(ctx.path)?.[1];
  const service = uid ? serviceOf(ctx) : undefined;
  if (!uid || !service) return false;
  const client = await env.deps.clients.find(service.clientId);
  if (!client) return false;
  const ending = service.state === 'done' || service.state === 'cancelled' ? service.state : 'expired';
  const name = client.name ?? client.clientId;
  renderPage(
    ctx,
    env.deps.views,
    'ended',
    { titleKey: `ended.${ending}_title`, messageKey: `ended.${ending}`, service: name, back: homeOf(client.metadata), code: 'session_expired' },
    // Nothing went wrong when the citizen is simply back on a page of a finished sign-in.
    { lang: resolveLang(ctx), status: ending === 'expired' ? 400 : 200 },
  );
  return true;
}

/** The RP's own page: client_uri, else its first post-logout address, else the site of its redirect URI. */
function homeOf(metadata: Record<string, unknown>): string | null {
  const candidates = [metadata['client_uri'], ...(asArray(metadata['post_logout_redirect_uris'])), ...asArray(metadata['redirect_uris']).map((u) => origin(u))];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    try {
      const url = new URL(candidate);
      if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
    } catch {
      // not a URL: try the next
    }
  }
  return null;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function origin(value: unknown): string | undefined {
  try {
    return typeof value === 'string' ? `${new URL(value).origin}/` : undefined;
  } catch {
    return undefined;
  }
}
