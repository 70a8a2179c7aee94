/**
 * The demo RP (development only): a plain OpenID Connect client, built with openid-client the
 * way a government site would be, that signs in at this kapu and shows the ID token claims.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import * as client from 'openid-client';
import QRCode from 'qrcode';
import type { Deps } from '../deps.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { AAD } from '../security/secret-box.ts';
import { DEFAULT_LANG } from '../views.ts';
import { DEMO_CLIENT_ID, DEMO_USER, demoFactors } from './seed.ts';

const COOKIE = 'kapu_demo_rp';

/** What the demo says when kapu sends the citizen back without a sign-in, by OAuth error code. */
const EXPLAINED: Record<string, string> = {
  access_denied: 'demo.cancelled',
  unmet_authentication_requirements: 'demo.level',
};

interface Outcome {
  key: string;
  error: boolean;
  code?: string;
  description?: string;
}

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

  /**
   * The demo citizen's authenticator app as a QR code, in development only (never in tests or
   * production): what setting up its factors showed the operator, read back by the factor.
   */
  const demoApp = async () => {
    if (deps.config.env !== 'development') return null;
    const account = await deps.repos.accounts.findByUsername(DEMO_USER.username);
    if (!account) return null;
    let uri: string | undefined;
    for (const factor of demoFactors(deps)) {
      uri ??= await factor.operatorEnroll.shownAgain?.({ flowId: account.id, account, lang: DEFAULT_LANG, repos: deps.repos });
    }
    if (!uri) return null;
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { uri, qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, username: DEMO_USER.username, password: DEMO_USER.password };
  };

  const show = async (ctx: Context, data: Record<string, unknown>, status = 200) => {
    const lang = resolveLang(ctx);
    renderPage(ctx, deps.views, 'demo', { titleKey: 'demo.title', claims: null, outcome: null, app: await demoApp(), ...data }, { lang, status, formTargets: [deps.config.issuer] });
  };

  router.get('/demo', (ctx) => show(ctx, {}));

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
    const saved = ctx.cookies.get(COOKIE, { signed: true });
    ctx.cookies.set(COOKIE, null);
    // kapu sent the citizen back without a sign-in (cancelled, level not reached): say so in words.
    const refused = ctx.query['error'];
    if (typeof refused === 'string') {
      const description = typeof ctx.query['error_description'] === 'string' ? ctx.query['error_description'] : undefined;
      const outcome: Outcome = { key: EXPLAINED[refused] ?? 'demo.failed', error: !(refused in EXPLAINED), code: refused.slice(0, 64), ...(description && { description: description.slice(0, 200) }) };
      return show(ctx, { outcome });
    }
    try {
      if (!saved) throw new Error('no sign-in in progress');
      const { verifier, state } = JSON.parse(saved) as { verifier: string; state: string };
      const tokens = await client.authorizationCodeGrant(await rp(), new URL(ctx.href), { pkceCodeVerifier: verifier, expectedState: state });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      const userinfo = await client.fetchUserInfo(await rp(), tokens.access_token, String(claims.sub));
      await show(ctx, { claims, userinfo, idToken: tokens.id_token, issuer: deps.config.issuer, outcome: { key: 'demo.signed_in', error: false } });
    } catch (err) {
      // A library's message is for developers: folded away under the helpdesk details.
      const code = err instanceof Error ? ((err as { error?: unknown }).error as string | undefined) ?? err.name : 'error';
      const description = err instanceof Error ? err.message.slice(0, 200) : undefined;
      await show(ctx, { outcome: { key: 'demo.failed', error: true, code, ...(description && { description }) } }, 400);
    }
  });
  return router;
}
