/**
 * Development demo (never in production): a citizen with every factor an operator can give and a demo RP served by
 * kapu itself at /demo, so one command gives a newcomer a whole sign-in to click through.
 */
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { addFactor, createAccount } from '../admin/accounts.ts';
import { registerClient } from '../admin/clients.ts';

export const DEMO_CLIENT_ID = 'demo-rp';
export const DEMO_USER = { username: 'demo', password: 'demo-jelszo', name: 'Minta Polgár', email: 'demo@example.hu' };

export interface DemoInfo {
  username: string;
  password: string;
  /** What setting up the demo citizen's factors showed the operator (the app's otpauth:// URI). */
  appUri: string | null;
}

/** The factors an operator can give, the one that needs nothing installed first. */
export function demoFactors(deps: Pick<Deps, 'factors'>) {
  const given = deps.factors.having('operatorEnroll');
  return [...given.filter((f) => f.setUpFirst), ...given.filter((f) => !f.setUpFirst)];
}

export async function seedDemo(deps: Deps, provider: Provider): Promise<DemoInfo> {
  let appUri: string | null = null;
  if (!(await deps.repos.accounts.findByUsername(DEMO_USER.username))) {
    await createAccount(deps, DEMO_USER);
    for (const factor of demoFactors(deps)) appUri = (await addFactor(deps, DEMO_USER.username, factor.id)).secretForDisplay ?? appUri;
  }
  const redirectUris = [`${deps.config.issuer}/demo/callback`];
  const postLogoutRedirectUris = [`${deps.config.issuer}/demo`];
  const existing = await deps.repos.clients.find(DEMO_CLIENT_ID);
  if (!existing) {
    await registerClient(deps, provider, { clientId: DEMO_CLIENT_ID, clientName: 'Minta Hivatal', redirectUris, postLogoutRedirectUris, authMethod: 'client_secret_basic' });
  } else if (
    JSON.stringify(existing.metadata['redirect_uris']) !== JSON.stringify(redirectUris) ||
    JSON.stringify(existing.metadata['post_logout_redirect_uris']) !== JSON.stringify(postLogoutRedirectUris)
  ) {
    // PORT or ISSUER changed since the first start: the demo RP lives at the new address now.
    await deps.repos.clients.updateMetadata(DEMO_CLIENT_ID, { ...existing.metadata, redirect_uris: redirectUris, post_logout_redirect_uris: postLogoutRedirectUris });
  }
  return { username: DEMO_USER.username, password: DEMO_USER.password, appUri };
}
