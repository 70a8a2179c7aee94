/**
 * Per-client protocol choices that kapu adds to oidc-provider's, kept in the client's metadata
 * (`client add|update --pkce`): PKCE is required (the default), or, for a confidential client
 * only, optional. A stock OpenID Connect Core library (e.g. an OmniAuth strategy) sends no
 * PKCE; such an RP authenticates at the token endpoint and binds the code to its sign-in with
 * the `nonce` in the ID token instead, as RFC 9700 §2.1.1 allows. A public client (one that does
 * not authenticate) always uses PKCE.
 */
import { type KoaContextWithOIDC, errors } from 'oidc-provider';

export const PKCE_POLICIES = ['required', 'optional'] as const;
export type PkcePolicy = (typeof PKCE_POLICIES)[number];

/** kapu's own client metadata key; absent means required. */
export const PKCE_METADATA = 'pkce';

/** The policy stored in a client's metadata. */
export function pkcePolicyOf(metadata: object): PkcePolicy {
  return (metadata as Record<string, unknown>)[PKCE_METADATA] === 'optional' ? 'optional' : 'required';
}

/** Why a client authenticating with `authMethod` may not have this policy, or null. */
export function pkcePolicyProblem(policy: unknown, authMethod: unknown): string | null {
  if (policy === undefined || policy === 'required') return null;
  if (policy !== 'optional') return 'pkce must be required or optional';
  if (authMethod === 'none') return 'pkce may be optional only for a confidential client (one that authenticates with a secret or a key): a public client always uses PKCE';
  return null;
}

/**
 * oidc-provider's `pkce.required`, asked when an authorization request has no code_challenge.
 * A request without PKCE from a client allowed to omit it must be an OpenID Connect request
 * with a nonce: that is what then ties the code to the browser's sign-in (a code injected into
 * another browser's session yields an ID token whose nonce that session never sent).
 */
export function pkceRequired(ctx: KoaContextWithOIDC, client: { clientAuthMethod?: string | undefined }): boolean {
  if (pkcePolicyOf(client) === 'required' || client.clientAuthMethod === 'none') return true;
  const params = ctx.oidc.params ?? {};
  const scopes = typeof params['scope'] === 'string' ? params['scope'].split(' ') : [];
  if (!scopes.includes('openid') || typeof params['nonce'] !== 'string' || params['nonce'] === '') {
    throw new errors.InvalidRequest('a request without PKCE must ask for the openid scope and carry a nonce');
  }
  return false;
}
