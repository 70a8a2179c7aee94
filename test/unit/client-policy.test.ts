/**
 * Per-client PKCE policy (issue 15, item 9b): required by default; optional only for a client
 * that authenticates at the token endpoint, and then only for an OpenID Connect request that
 * carries a nonce.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { pkcePolicyOf, pkcePolicyProblem, pkceRequired } from '../../src/oidc/client-policy.ts';

/** The part of oidc-provider's request context the hook reads. */
const request = (params: Record<string, string>) => ({ oidc: { params } }) as unknown as KoaContextWithOIDC;
const OIDC_WITH_NONCE = { scope: 'openid profile', nonce: 'n-0S6_WzA2Mj' };

test('a client without a policy, or with required, must use PKCE whatever the request carries', () => {
  expect(pkcePolicyOf({})).toBe('required');
  expect(pkceRequired(request(OIDC_WITH_NONCE), { clientAuthMethod: 'client_secret_basic' })).toBe(true);
  const required = { clientAuthMethod: 'client_secret_basic', pkce: 'required' };
  expect(pkceRequired(request(OIDC_WITH_NONCE), required)).toBe(true);
});

test('a confidential client registered with optional may go without PKCE when it sends openid and a nonce', () => {
  const client = { clientAuthMethod: 'client_secret_post', pkce: 'optional' };
  expect(pkcePolicyOf(client)).toBe('optional');
  expect(pkceRequired(request(OIDC_WITH_NONCE), client)).toBe(false);
});

test.each([
  ['no nonce', { scope: 'openid' }],
  ['an empty nonce', { scope: 'openid', nonce: '' }],
  ['no openid scope (no ID token to carry the nonce)', { scope: 'profile', nonce: 'abc' }],
])('…but a request without PKCE with %s is refused as invalid_request', (_what, params) => {
  const client = { clientAuthMethod: 'private_key_jwt', pkce: 'optional' };
  expect(() => pkceRequired(request(params), client)).toThrow(
    expect.objectContaining({ error: 'invalid_request', error_description: 'a request without PKCE must ask for the openid scope and carry a nonce' }),
  );
});

test('a public client always uses PKCE: optional is refused at registration, and ignored if it were stored', () => {
  expect(pkcePolicyProblem('optional', 'none')).toMatch(/only for a confidential client .*: a public client always uses PKCE/);
  expect(pkcePolicyProblem('optional', 'client_secret_basic')).toBeNull();
  expect(pkcePolicyProblem('optional', undefined)).toBeNull(); // the provider's default method is client_secret_basic
  expect(pkcePolicyProblem('required', 'none')).toBeNull();
  expect(pkcePolicyProblem('sometimes', 'client_secret_basic')).toBe('pkce must be required or optional');
  const stored = { clientAuthMethod: 'none', pkce: 'optional' };
  expect(pkceRequired(request(OIDC_WITH_NONCE), stored)).toBe(true);
});
