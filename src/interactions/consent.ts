/**
 * Consent. Registered government RPs are first-party and get their grant without a screen;
 * a client registered with consent_required asks the citizen first.
 */
import type { Context } from 'koa';
import { type InteractionEnv, type Step, loadPost, render } from './context.ts';

export async function grantConsent(step: Step): Promise<void> {
  const { provider } = step.env;
  const { details } = step;
  const accountId = details.session?.accountId;
  if (!accountId) throw new Error('consent prompt without a session account');
  const grant = details.grantId
    ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId: step.client.id }))
    : new provider.Grant({ accountId, clientId: step.client.id });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  const redirectTo = await provider.interactionResult(step.ctx.req, step.ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  step.ctx.status = 303;
  step.ctx.redirect(redirectTo);
}

export function showConsent(step: Step): void {
  const scopes = String(step.details.params['scope'] ?? 'openid')
    .split(' ')
    .filter((s) => ['openid', 'profile', 'email', 'offline_access'].includes(s));
  render(step, 'consent', { titleKey: 'consent.title', scopes });
}

/** POST /interaction/:uid/consent */
export function consent(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['choose_method', 'done']);
    if (step.details.prompt.name !== 'consent') {
      ctx.status = 303;
      ctx.redirect(`/interaction/${step.uid}`);
      return;
    }
    await grantConsent(step);
  };
}
