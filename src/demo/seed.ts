/**
 * Development demo (never in production): a citizen with both factors and a demo RP served by
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
  totpUri: string | null;
}

export async function seedDemo(deps: Deps, provider: Provider): Promise<DemoInfo> {
  let totpUri: string | null = null;
  if (!(await deps.repos.accounts.findByUsername(DEMO_USER.username))) {
    await createAccount(deps, DEMO_USER);
    await addFactor(deps, DEMO_USER.username, 'email');
    totpUri = (await addFactor(deps, DEMO_USER.username, 'totp')).secretForDisplay ?? null;
  }
  if (!(await deps.repos.clients.find(DEMO_CLIENT_ID))) {
    await registerClient(deps, provider, {
      clientId: DEMO_CLIENT_ID,
      clientName: 'Minta Hivatal',
      redirectUris: [`${deps.config.issuer}/demo/callback`],
      postLogoutRedirectUris: [`${deps.config.issuer}/demo`],
      authMethod: 'client_secret_basic',
    });
  }
  return { username: DEMO_USER.username, password: DEMO_USER.password, totpUri };
}
