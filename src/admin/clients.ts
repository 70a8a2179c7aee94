/**
 * Relying-party registration shared by the CLI and the demo seed. Metadata is checked by
 * oidc-provider's own client validation before anything is stored; a generated secret is
 * returned once and stored only sealed.
 */
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { type CheckedLogo, LogoRefused, checkLogo } from '../oidc/client-logos.ts';
import { PKCE_METADATA, type PkcePolicy } from '../oidc/client-policy.ts';
import { AAD } from '../security/secret-box.ts';
import { AdminError, INVISIBLE } from './accounts.ts';

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

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

/** Longest grace period of an old client secret after a rotation. */
export const MAX_SECRET_GRACE_SECONDS = 30 * 24 * 60 * 60;

/** What a client id may be: 3–64 letters, digits, dots, underscores and dashes (safe in a URL path as it is). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{3,64}$/;

export interface NewClientInput {
  clientId: string;
  clientName?: string;
  /** Metadata only: kapu never fetches it, so its pages never show it (they show `logo`). */
  logoUri?: string;
  /** The RP's home page: its pages link to it. */
  clientUri?: string;
  /** The logo kapu's pages show: a PNG, JPEG or WebP image of at most 64 KiB. */
  logo?: Uint8Array;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  authMethod: (typeof AUTH_METHODS)[number];
  /** For private_key_jwt: the RP's public keys (a JWKS object) or where to fetch them. */
  jwks?: unknown;
  jwksUri?: string;
  minAcr?: string;
  consentRequired?: boolean;
  backchannelLogoutUri?: string;
  lifetimes?: Partial<Record<TokenLifetime, number>>;
  /** Default required; optional only for a confidential client (src/oidc/client-policy.ts). */
  pkce?: PkcePolicy;
}

/** A change to a client: a value sets, `null` removes, absent keeps. */
export interface ClientUpdate {
  clientName?: string | null;
  logoUri?: string | null;
  clientUri?: string | null;
  /** New logo bytes; null removes the logo. */
  logo?: Uint8Array | null;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  minAcr?: string | null;
  consentRequired?: boolean;
  backchannelLogoutUri?: string | null;
  lifetimes?: Partial<Record<TokenLifetime, number | null>>;
  pkce?: PkcePolicy;
}

function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

/**
 * Rules oidc-provider does not know: in production every URI a browser or kapu is sent to is
 * https (an RP on the operator's own machine, on a loopback address, excepted); names carry no
 * invisible characters.
 */
function checkMetadata(deps: Deps, metadata: Record<string, unknown>): void {
  const uris = [
    ...((metadata['redirect_uris'] as string[] | undefined) ?? []),
    ...((metadata['post_logout_redirect_uris'] as string[] | undefined) ?? []),
    ...['backchannel_logout_uri', 'logo_uri', 'client_uri', 'jwks_uri'].map((k) => metadata[k]).filter((v): v is string => typeof v === 'string'),
  ];
  if (deps.config.production) {
    for (const uri of uris) {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        continue; // the provider's validation names it
      }
      if (url.protocol === 'http:' && !isLoopback(url)) {
        throw new AdminError(`http:// URIs are refused in production (only https://, or http:// on a loopback address): ${uri}`);
      }
    }
  }
  const name = metadata['client_name'];
  if (typeof name === 'string' && INVISIBLE.test(name)) {
    throw new AdminError('client name must not contain control characters or invisible formatting characters (e.g. bidirectional overrides)');
  }
}

/** The logo as kapu keeps it, or why it cannot be one. */
function logoOf(bytes: Uint8Array): CheckedLogo {
  try {
    return checkLogo(bytes);
  } catch (err) {
    if (err instanceof LogoRefused) throw new AdminError(err.message);
    throw err;
  }
}

async function validate(deps: Deps, provider: Provider, clientId: string, metadata: Record<string, unknown>, secret: string | null): Promise<void> {
  checkMetadata(deps, metadata);
  try {
    await provider.Client.validate({ client_id: clientId, ...(secret && { client_secret: secret }), ...metadata });
  } catch (err) {
    const e = err as { error_description?: string; message?: string };
    throw new AdminError(`invalid client: ${e.error_description ?? e.message ?? 'rejected'}`);
  }
}

export async function registerClient(deps: Deps, provider: Provider, input: NewClientInput): Promise<{ clientId: string; clientSecret: string | null }> {
  if (!CLIENT_ID_PATTERN.test(input.clientId)) {
    throw new AdminError('client id must be 3–64 characters: letters, digits, . _ -');
  }
  if (!AUTH_METHODS.includes(input.authMethod)) throw new AdminError(`auth method must be one of ${AUTH_METHODS.join(', ')}`);
  if (input.redirectUris.length === 0) throw new AdminError('at least one redirect URI is required');
  const logo = input.logo === undefined ? undefined : logoOf(input.logo);
  const usesSecret = input.authMethod !== 'private_key_jwt';
  const clientSecret = usesSecret ? deps.random.bytes(32).toString('base64url') : null;
  const metadata: Record<string, unknown> = {
    redirect_uris: input.redirectUris,
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    token_endpoint_auth_method: input.authMethod,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(input.clientName && { client_name: input.clientName }),
    ...(input.logoUri && { logo_uri: input.logoUri }),
    ...(input.clientUri && { client_uri: input.clientUri }),
    ...(input.jwks !== undefined && { jwks: input.jwks }),
    ...(input.jwksUri && { jwks_uri: input.jwksUri }),
    ...(input.minAcr && { min_acr: input.minAcr }),
    ...(input.consentRequired !== undefined && { consent_required: input.consentRequired }),
    ...(input.pkce === 'optional' && { [PKCE_METADATA]: 'optional' }),
    // With sid in ID and logout tokens, the RP can end exactly the session that signed out.
    ...(input.backchannelLogoutUri && { backchannel_logout_uri: input.backchannelLogoutUri, backchannel_logout_session_required: true }),
    ...input.lifetimes,
  };
  await validate(deps, provider, input.clientId, metadata, clientSecret);
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    const created = await r.clients.create({
      clientId: input.clientId,
      secretSealed: clientSecret ? deps.box.seal(clientSecret, AAD.clientSecret(input.clientId)) : null,
      metadata,
      now,
    });
    if (!created) throw new AdminError(`client "${input.clientId}" exists`);
    if (logo) await r.clients.setLogo(input.clientId, { ...logo, now });
    await r.audit.record({ type: 'client.created', clientId: input.clientId }, now);
  });
  return { clientId: input.clientId, clientSecret };
}

/**
 * Changes a registered client, checked like a new registration; every replica drops its cached
 * copy when the change commits. Returns the names of the metadata that changed, and `logo`
 * when the logo did (the same image again is no change).
 */
export async function updateClient(deps: Deps, provider: Provider, clientId: string, update: ClientUpdate): Promise<string[]> {
  const row = await deps.repos.clients.find(clientId);
  if (!row) throw new AdminError(`no client "${clientId}"`);
  const metadata: Record<string, unknown> = { ...row.metadata };
  const set = (key: string, value: unknown) => {
    if (value === undefined) return;
    if (value === null) delete metadata[key];
    else metadata[key] = value;
  };
  set('client_name', update.clientName);
  set('logo_uri', update.logoUri);
  set('client_uri', update.clientUri);
  set('redirect_uris', update.redirectUris);
  set('post_logout_redirect_uris', update.postLogoutRedirectUris);
  set('min_acr', update.minAcr);
  set('consent_required', update.consentRequired);
  // Required is the default: kept as the absence of the key.
  if (update.pkce !== undefined) set(PKCE_METADATA, update.pkce === 'optional' ? 'optional' : null);
  set('backchannel_logout_uri', update.backchannelLogoutUri);
  if (update.backchannelLogoutUri !== undefined) set('backchannel_logout_session_required', update.backchannelLogoutUri === null ? null : true);
  for (const [key, value] of Object.entries(update.lifetimes ?? {})) set(key, value);
  if (Array.isArray(metadata['redirect_uris']) && metadata['redirect_uris'].length === 0) throw new AdminError('at least one redirect URI is required');
  const logo = update.logo === undefined || update.logo === null ? update.logo : logoOf(update.logo);
  // A placeholder secret: validation wants one for secret-based methods; the stored one is kept.
  await validate(deps, provider, clientId, metadata, row.secret_sealed ? 'x'.repeat(43) : null);
  const changedMetadata = [...new Set([...Object.keys(metadata), ...Object.keys(row.metadata)])].filter(
    (k) => JSON.stringify(metadata[k]) !== JSON.stringify(row.metadata[k]),
  );
  const logoChanged = logo === null ? row.logo_sha256 !== null : logo !== undefined && logo.sha256 !== row.logo_sha256;
  const changed = logoChanged ? [...changedMetadata, 'logo'] : changedMetadata;
  if (changed.length === 0) return [];
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    if (changedMetadata.length > 0) await r.clients.updateMetadata(clientId, metadata);
    if (logoChanged && logo) await r.clients.setLogo(clientId, { ...logo, now });
    if (logoChanged && logo === null) await r.clients.removeLogo(clientId);
    await r.audit.record({ type: 'client.updated', clientId, detail: { changed: changed.join(',') } }, now);
  });
  return changed;
}

/** Changes a client's minimum acr (null removes it); checked like a new registration. */
export async function setClientMinAcr(deps: Deps, provider: Provider, clientId: string, minAcr: string | null): Promise<void> {
  await updateClient(deps, provider, clientId, { minAcr });
}

/**
 * Gives a client a new secret, returned once. The old one keeps working for `graceSeconds`
 * (0: ends at once), so the RP can deploy the new one without an outage.
 */
export async function rotateClientSecret(deps: Deps, clientId: string, graceSeconds: number): Promise<{ clientSecret: string; previousValidUntil: Date | null }> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_SECRET_GRACE_SECONDS) {
    throw new AdminError(`grace period must be 0–${MAX_SECRET_GRACE_SECONDS} seconds`);
  }
  const row = await deps.repos.clients.find(clientId);
  if (!row) throw new AdminError(`no client "${clientId}"`);
  if (!row.secret_sealed) throw new AdminError(`client "${clientId}" authenticates with private_key_jwt: it has no secret`);
  const clientSecret = deps.random.bytes(32).toString('base64url');
  const now = deps.clock.now();
  const previousValidUntil = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null;
  await deps.uow.transaction(async (r) => {
    const rotated = await r.clients.rotateSecret(clientId, {
      expected: row.secret_sealed!,
      secretSealed: deps.box.seal(clientSecret, AAD.clientSecret(clientId)),
      previousSealed: previousValidUntil ? row.secret_sealed : null,
      previousExpiresAt: previousValidUntil,
    });
    if (!rotated) throw new AdminError(`the secret of client "${clientId}" changed meanwhile: run the command again`);
    await r.audit.record({ type: 'client.secret_rotated', clientId, detail: { grace_seconds: graceSeconds } }, now);
  });
  return { clientSecret, previousValidUntil };
}

/** Removes a relying party and everything the provider issued to it (grants, tokens, codes). */
export async function removeClient(deps: Deps, clientId: string): Promise<void> {
  const now = deps.clock.now();
  // One transaction: a client is never gone while its tokens still work, nor the reverse.
  await deps.uow.transaction(async (r) => {
    if (!(await r.clients.remove(clientId))) throw new AdminError(`no client "${clientId}"`);
    await r.payloads.revokeByClientId(clientId);
    await r.audit.record({ type: 'client.removed', clientId }, now);
  });
}
