/**
 * Relying-party registration shared by the CLI and the demo seed. Metadata is checked by
 * oidc-provider's own client validation before anything is stored; a generated secret is
 * returned once and stored only sealed.
 */
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { AAD } from '../security/secret-box.ts';
import { AdminError } from './accounts.ts';

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

export interface NewClientInput {
  clientId: string;
  clientName?: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  authMethod: (typeof AUTH_METHODS)[number];
  /** For private_key_jwt: the RP's public keys (a JWKS object) or where to fetch them. */
  jwks?: unknown;
  jwksUri?: string;
  minAcr?: string;
  consentRequired?: boolean;
  backchannelLogoutUri?: string;
}

export async function registerClient(deps: Deps, provider: Provider, input: NewClientInput): Promise<{ clientId: string; clientSecret: string | null }> {
  if (!/^[A-Za-z0-9._-]{3,64}$/.test(input.clientId)) {
    throw new AdminError('client id must be 3–64 characters: letters, digits, . _ -');
  }
  if (!AUTH_METHODS.includes(input.authMethod)) throw new AdminError(`auth method must be one of ${AUTH_METHODS.join(', ')}`);
  if (input.redirectUris.length === 0) throw new AdminError('at least one redirect URI is required');
  const usesSecret = input.authMethod !== 'private_key_jwt';
  const clientSecret = usesSecret ? deps.random.bytes(32).toString('base64url') : null;
  const metadata: Record<string, unknown> = {
    redirect_uris: input.redirectUris,
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    token_endpoint_auth_method: input.authMethod,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(input.clientName && { client_name: input.clientName }),
    ...(input.jwks !== undefined && { jwks: input.jwks }),
    ...(input.jwksUri && { jwks_uri: input.jwksUri }),
    ...(input.minAcr && { min_acr: input.minAcr }),
    ...(input.consentRequired !== undefined && { consent_required: input.consentRequired }),
    ...(input.backchannelLogoutUri && { backchannel_logout_uri: input.backchannelLogoutUri }),
  };
  try {
    await provider.Client.validate({ client_id: input.clientId, ...(clientSecret && { client_secret: clientSecret }), ...metadata });
  } catch (err) {
    const e = err as { error_description?: string; message?: string };
    throw new AdminError(`invalid client: ${e.error_description ?? e.message ?? 'rejected'}`);
  }
  const now = deps.clock.now();
  const created = await deps.repos.clients.create({
    clientId: input.clientId,
    secretSealed: clientSecret ? deps.box.seal(clientSecret, AAD.clientSecret(input.clientId)) : null,
    metadata,
    now,
  });
  if (!created) throw new AdminError(`client "${input.clientId}" exists`);
  await deps.repos.audit.record({ type: 'client.created', clientId: input.clientId }, now);
  return { clientId: input.clientId, clientSecret };
}

/** Changes a client's minimum acr (null removes it); checked like a new registration. */
export async function setClientMinAcr(deps: Deps, provider: Provider, clientId: string, minAcr: string | null): Promise<void> {
  const row = await deps.repos.clients.find(clientId);
  if (!row) throw new AdminError(`no client "${clientId}"`);
  const metadata = { ...row.metadata };
  if (minAcr === null) delete metadata['min_acr'];
  else metadata['min_acr'] = minAcr;
  try {
    await provider.Client.validate({ client_id: clientId, client_secret: 'x'.repeat(32), ...metadata });
  } catch (err) {
    const e = err as { error_description?: string; message?: string };
    throw new AdminError(`invalid client: ${e.error_description ?? e.message ?? 'rejected'}`);
  }
  await deps.repos.clients.updateMetadata(clientId, metadata);
  await deps.repos.audit.record({ type: 'client.updated', clientId, detail: { min_acr: minAcr } }, deps.clock.now());
}

/** Removes a relying party and everything the provider issued to it (grants, tokens, codes). */
export async function removeClient(deps: Deps, clientId: string): Promise<void> {
  if (!(await deps.repos.clients.remove(clientId))) throw new AdminError(`no client "${clientId}"`);
  await deps.repos.payloads.revokeByClientId(clientId);
  await deps.repos.audit.record({ type: 'client.removed', clientId }, deps.clock.now());
}
