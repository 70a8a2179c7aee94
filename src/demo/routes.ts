/**
 * The demo RP (development only): a plain OpenID Connect client, built with openid-client the
 * way a government site would be, that signs in at this kapu and shows the ID token claims.
 */
import Router from '@koa/router';
import * as client from 'openid-client';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { AAD } from '../security/secret-box.ts';
import { DEMO_CLIENT_ID } from './seed.ts';

const COOKIE = 'kapu_demo_rp';

export function demoRoutes(deps: Deps): Router {
  const router = new Router();
  const redirectUri = `${deps.config.issuer}/demo/callback`;
  let configuration: Promise<client.Configuration> | undefined;

  const rp = () => {
    configuration ??= (async () => {
      const row = await deps.repos.clients.find(DEMO_CLIENT_ID);
      if (!row?.secret_sealed) throw new Error('the demo client is not registered');
      const secret = deps.box.openText(row.secret_sealed, AAD.clientSecret(DEMO_CLIENT_ID));
      const insecure = deps.config.issuer.startsWith('http://');
      return client.discovery(new URL(deps.config.issuer), DEMO_CLIENT_ID, secret, undefined, insecure ? { execute: [client.allowInsecureRequests] } : undefined);
    })().catch((err: unknown) => {
      configuration = undefined;
      throw err;
    });
    return configuration;
  };

  router.get('/demo', (ctx) => {
    renderPage(ctx, deps.views, 'demo', { titleKey: 'demo.title', claims: null, error: null }, { lang: resolveLang(ctx) });
  });

  router.get('/demo/login', async (ctx) => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    let configuration: client.Configuration;
    try {
      configuration = await rp();
    } catch (err) {
      // Not seeded (yet): the demo page says so instead of a 500.
      const message = err instanceof Error ? err.message : String(err);
      renderPage(ctx, deps.views, 'demo', { titleKey: 'demo.title', claims: null, error: message }, { lang: resolveLang(ctx), status: 503 });
      return;
    }
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ui_locales: resolveLang(ctx),
      ...(ctx.query['level'] === 'substantial' && { acr_values: deps.config.acr.twoFactor }),
    });
    ctx.cookies.set(COOKIE, JSON.stringify({ verifier, state }), { signed: true, httpOnly: true, sameSite: 'lax', maxAge: 15 * 60 * 1000 });
    ctx.redirect(url.href);
  });

  router.get('/demo/callback', async (ctx) => {
    const lang = resolveLang(ctx);
    const saved = ctx.cookies.get(COOKIE, { signed: true });
    ctx.cookies.set(COOKIE, null);
    try {
      if (!saved) throw new Error('no sign-in in progress');
      const { verifier, state } = JSON.parse(saved) as { verifier: string; state: string };
      const tokens = await client.authorizationCodeGrant(await rp(), new URL(ctx.href), { pkceCodeVerifier: verifier, expectedState: state });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      const userinfo = await client.fetchUserInfo(await rp(), tokens.access_token, String(claims.sub));
      renderPage(ctx, deps.views, 'demo', { titleKey: 'demo.title', claims, userinfo, idToken: tokens.id_token, issuer: deps.config.issuer, error: null }, { lang, formTargets: [deps.config.issuer] });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      renderPage(ctx, deps.views, 'demo', { titleKey: 'demo.title', claims: null, error: message }, { lang, status: 400 });
    }
  });
  return router;
}
