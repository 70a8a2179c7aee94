/**
 * What a relying party's registration may hold, as both sides read it: the provider enforces
 * it (src/oidc/provider.ts), the admin layer and the CLI check an operator's input against it
 * before anything is stored (src/admin/clients.ts), and the pages name it (/developers).
 */

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * Per-client token lifetimes (seconds) an operator may set, with their safe bounds: long enough
 * to be usable, short enough that a leaked token does not open the door for long. An ID token
 * lives at most an hour: signing keys stay published an hour after a rotation (src/oidc/keys.ts).
 */
export const TOKEN_LIFETIMES = {
  access_token_ttl: { min: 60, max: 60 * 60 },
  id_token_ttl: { min: 60, max: 60 * 60 },
  refresh_token_ttl: { min: 60 * 60, max: 30 * 24 * 60 * 60 },
} as const;
export type TokenLifetime = keyof typeof TOKEN_LIFETIMES;

/** What a client id may be: 3–64 letters, digits, dots, underscores and dashes (safe in a URL path as it is). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{3,64}$/;
