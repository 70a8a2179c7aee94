/**
 * Relying-party registration shared by the CLI and the demo seed. Metadata is checked by
 * oidc-provider's own client validation before anything is stored; a generated secret is
 * returned once and stored only sealed.
 */
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { AUTH_METHODS, type AuthMethod, CLIENT_ID_PATTERN, type TokenLifetime } from '../oidc/client-metadata.ts';
import { PKCE_METADATA, type PkcePolicy } from '../oidc/client-policy.ts';
import type { SubjectType } from '../oidc/pairwise.ts';
import { AAD } from '../security/secret-box.ts';
import { AdminError } from './accounts.ts';
import { logoOf, subjectOf, validate } from './client-rules.ts';

/** Longest grace period of an old client secret after a rotation. */
export const MAX_SECRET_GRACE_SECONDS = 30 * 24 * 60 * 60;

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
  authMethod: AuthMethod;
  /** For private_key_jwt: the RP's public keys (a JWKS object) or where to fetch them. */
  jwks?: unknown;
  jwksUri?: string;
  minAcr?: string;
  consentRequired?: boolean;
  backchannelLogoutUri?: string;
  lifetimes?: Partial<Record<TokenLifetime, number>>;
  /** Default required; optional only for a confidential client (src/oidc/client-policy.ts). */
  pkce?: PkcePolicy;
  /** Default public; pairwise: `sub` derived for the client's sector (src/oidc/pairwise.ts). */
  subjectType?: SubjectType;
  /** For a pairwise client whose redirect URIs are on several hosts: its host is the sector (never fetched). */
  sectorIdentifierUri?: string;
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
  /** Changing it, or a pairwise client's sector, gives the RP other `sub` values for everyone. */
  subjectType?: SubjectType;
  sectorIdentifierUri?: string;
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
    ...(input.sectorIdentifierUri && { sector_identifier_uri: input.sectorIdentifierUri }),
    // With sid in ID and logout tokens, the RP can end exactly the session that signed out.
    ...(input.backchannelLogoutUri && { backchannel_logout_uri: input.backchannelLogoutUri, backchannel_logout_session_required: true }),
    ...input.lifetimes,
  };
  const subject = subjectOf(input.subjectType ?? 'public', metadata);
  await validate(deps, provider, input.clientId, metadata, clientSecret, subject);
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    const created = await r.clients.create({
      clientId: input.clientId,
      secretSealed: clientSecret ? deps.box.seal(clientSecret, AAD.clientSecret(input.clientId)) : null,
      metadata,
      subject,
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
 * copy when the change commits. Returns the names of the metadata that changed, `subject_type`
 * and `sector` when those did, and `logo` when the logo did (the same image again is no change).
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
  set('sector_identifier_uri', update.sectorIdentifierUri);
  const subjectType = update.subjectType ?? row.subject_type;
  // A public client has no sector; made public, it drops its sector identifier URI.
  if (update.subjectType === 'public' && update.sectorIdentifierUri === undefined) set('sector_identifier_uri', null);
  const pinned = row.subject_type === 'pairwise' && update.sectorIdentifierUri === undefined ? row.sector : null;
  const subject = subjectOf(subjectType, metadata, subjectType === 'pairwise' ? pinned : null);
  const logo = update.logo === undefined || update.logo === null ? update.logo : logoOf(update.logo);
  // A placeholder secret: validation wants one for secret-based methods; the stored one is kept.
  await validate(deps, provider, clientId, metadata, row.secret_sealed ? 'x'.repeat(43) : null, subject);
  const changedMetadata = [...new Set([...Object.keys(metadata), ...Object.keys(row.metadata)])].filter(
    (k) => JSON.stringify(metadata[k]) !== JSON.stringify(row.metadata[k]),
  );
  const changedSubject = [
    ...(subject.subjectType !== row.subject_type ? ['subject_type'] : []),
    ...(subject.sector !== row.sector ? ['sector'] : []),
  ];
  const logoChanged = logo === null ? row.logo_sha256 !== null : logo !== undefined && logo.sha256 !== row.logo_sha256;
  const changed = [...changedMetadata, ...changedSubject, ...(logoChanged ? ['logo'] : [])];
  if (changed.length === 0) return [];
  const now = deps.clock.now();
  await deps.uow.transaction(async (r) => {
    if (changedMetadata.length > 0) await r.clients.updateMetadata(clientId, metadata);
    if (changedSubject.length > 0) await r.clients.setSubject(clientId, subject);
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
