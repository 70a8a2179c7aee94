/**
 * Every URL kapu and oidc-provider build (discovery's endpoints, redirects, links in pages and
 * mails) comes from ISSUER, never from the request: a request's Host or X-Forwarded-Host is
 * replaced by the issuer's host before anything reads it, so `Host: evil.example` cannot turn
 * the advertised token and JWKS endpoints into evil.example (nor poison a shared cache).
 */
import type { Context, Next } from 'koa';
import type { Config } from '../config/index.ts';
import { contentSecurityPolicy, originOf } from './page.ts';

export function pinToIssuer(config: Pick<Config, 'issuer' | 'trustProxy'>) {
  const issuer = new URL(config.issuer);
  return async (ctx: Context, next: Next) => {
    const { headers } = ctx.req;
    headers.host = issuer.host;
    delete headers['x-forwarded-host'];
    // Behind the TLS-terminating proxy the scheme is the issuer's too.
    if (config.trustProxy) headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    await next();
  };
}

const DISCOVERY = '/.well-known/openid-configuration';

/**
 * Headers for what oidc-provider renders itself. Its pages get kapu's strict CSP: the
 * form_post page's one inline script is allowed by its hash (the provider adds the hash to a
 * script-src it finds) and its form may post to the RP's redirect_uri only. Discovery is the
 * same for everyone (see pinToIssuer), so any cache may keep it for a while.
 */
export function providerPageHeaders() {
  // An empty script-src allows no script until the provider adds its script's hash.
  const policy = `${contentSecurityPolicy()}; script-src`;
  return async (ctx: Context, next: Next) => {
    ctx.set('Content-Security-Policy', policy);
    await next();
    if (ctx.path === DISCOVERY && ctx.status === 200) {
      ctx.set('Cache-Control', 'public, max-age=300');
      return;
    }
    if (!ctx.response.is('html')) {
      ctx.remove('Content-Security-Policy');
      return;
    }
    if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
    const action = typeof ctx.body === 'string' ? /<form method="post" action="([^"]+)"/.exec(ctx.body)?.[1] : undefined;
    if (action) {
      const csp = ctx.response.get('Content-Security-Policy');
      const target = originOf(action.replace(/&amp;/g, '&'));
      ctx.set('Content-Security-Policy', csp.replace(/form-action ([^;]*)/, (_all, sources: string) => `form-action ${[sources, ...target].join(' ')}`));
    }
  };
}
