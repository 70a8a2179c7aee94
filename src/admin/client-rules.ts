/**
 * The rules a relying party's registration must pass besides oidc-provider's own client
 * validation, which `validate` runs last: https in production, no invisible characters in
 * names, a logo kapu can show, and the subject type with its sector.
 */
import type Provider from 'oidc-provider';
import type { ClientSubject } from '../db/repositories/clients.ts';
import type { Deps } from '../deps.ts';
import { type CheckedLogo, LogoRefused, checkLogo } from '../oidc/client-logos.ts';
import { SectorRefused, type SubjectType, sectorOf } from '../oidc/pairwise.ts';
import { AdminError, INVISIBLE } from './accounts.ts';

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
export function logoOf(bytes: Uint8Array): CheckedLogo {
  try {
    return checkLogo(bytes);
  } catch (err) {
    if (err instanceof LogoRefused) throw new AdminError(err.message);
    throw err;
  }
}

/**
 * The subject type and sector a client gets. A client that stays pairwise keeps its sector
 * (`keep`) unless a new sector identifier URI is given: its citizens keep their `sub` when its
 * redirect URIs move.
 */
export function subjectOf(type: SubjectType, metadata: Record<string, unknown>, keep: string | null = null): ClientSubject {
  if (type === 'public') {
    if (metadata['sector_identifier_uri'] !== undefined) throw new AdminError('a sector identifier URI goes with the pairwise subject type only');
    return { subjectType: 'public', sector: null };
  }
  if (keep !== null) return { subjectType: 'pairwise', sector: keep };
  try {
    return { subjectType: 'pairwise', sector: sectorOf(metadata['redirect_uris'] as string[], metadata['sector_identifier_uri'] as string | undefined) };
  } catch (err) {
    if (err instanceof SectorRefused) throw new AdminError(`pairwise subjects: ${err.message}`);
    throw err;
  }
}

export async function validate(
  deps: Deps,
  provider: Provider,
  clientId: string,
  metadata: Record<string, unknown>,
  secret: string | null,
  subject: ClientSubject,
): Promise<void> {
  checkMetadata(deps, metadata);
  try {
    await provider.Client.validate({ client_id: clientId, ...(secret && { client_secret: secret }), ...metadata, subject_type: subject.subjectType });
  } catch (err) {
    const e = err as { error_description?: string; message?: string };
    throw new AdminError(`invalid client: ${e.error_description ?? e.message ?? 'rejected'}`);
  }
}
