/**
 * Consent, which is the provider's business (grants), not the sign-in core's. Registered
 * government RPs are first-party and get their grant without a screen; a client registered
 * with consent_required asks the citizen first.
 */
import type { Context } from 'koa';
import { isDatabaseUnavailable } from '../db/faults.ts';
import { SessionExpired } from '../errors.ts';
import { resolveLang } from '../http/page.ts';
import { finishWithConsent } from '../oidc/interaction-store.ts';
import type { InteractionEnv } from './request.ts';
import { renderSignInPage, seeOther } from './render.ts';

const SHOWN_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

async function details(ctx: Context, env: InteractionEnv) {
  try {
    return await env.provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    // The database away is no expired sign-in: it is answered 503, to be tried again.
    if (isDatabaseUnavailable(err)) throw err;
    throw new SessionExpired(err);
  }
}

/** The consent prompt: granted at once for a first-party RP, otherwise the consent page. */
export async function showConsent(ctx: Context, env: InteractionEnv, uid: string): Promise<void> {
  const interaction = await details(ctx, env);
  const params = interaction.params as Record<string, string | undefined>;
  const client = await env.deps.clients.find(params['client_id'] ?? '');
  if (!client) throw new SessionExpired();
  if (client.firstParty) return grantConsent(ctx, env);
  const scopes = String(params['scope'] ?? 'openid')
    .split(' ')
    .filter((s) => SHOWN_SCOPES.includes(s));
  const lang = resolveLang(ctx, params['ui_locales']);
  renderSignInPage(ctx, env, { uid, lang, client: { id: client.clientId, name: client.name, logoSha256: client.logoSha256, homepage: client.homepage }, redirectUri: params['redirect_uri'] }, 'consent', { titleKey: 'consent.title', scopes });
}

/** Grants what the RP asked for and resumes at the provider. */
export async function grantConsent(ctx: Context, env: InteractionEnv): Promise<void> {
  const { provider } = env;
  const interaction = await details(ctx, env);
  const accountId = interaction.session?.accountId;
  const clientId = String(interaction.params['client_id']);
  if (!accountId) throw new SessionExpired();
  const grant = (interaction.grantId && (await provider.Grant.find(interaction.grantId))) || new provider.Grant({ accountId, clientId });
  const missing = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  const redirectTo = await finishWithConsent(provider, ctx.req, ctx.res, grantId);
  seeOther(ctx, redirectTo);
}
