/**
 * Pairwise subject identifiers (OpenID Connect Core §8.1): an RP registered as pairwise sees,
 * for each citizen, a `sub` derived from the account and the RP's sector, so two government
 * services in different sectors cannot join their records on `sub`; RPs of one sector (one
 * host) see the same value.
 *
 * The sector is a host, decided when the client is registered (or made pairwise) and stored
 * with it: the host of its redirect URIs, or of its sector identifier URI when they are on
 * several hosts. kapu never fetches that URI (it makes no outbound requests for clients): the
 * operator who registers the RP vouches that the redirect URIs belong to the sector.
 *
 * `sub` = base64url(HMAC-SHA-256(key, sector ‖ 0x00 ‖ account id)), under one key per
 * installation kept (sealed) in the database: the same on every replica and after every
 * restart, and unknown to RPs, so they can neither link two sectors' values nor recover the
 * account id.
 */
import { createHmac } from 'node:crypto';
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

export const SUBJECT_TYPES = ['public', 'pairwise'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** A sector that cannot be told from what the client was registered with. */
export class SectorRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SectorRefused';
  }
}

/** The sector of a pairwise client: its sector identifier URI's host, else its redirect URIs' one host. */
export function sectorOf(redirectUris: readonly string[], sectorIdentifierUri?: string): string {
  const host = (uri: string) => {
    try {
      return new URL(uri).host;
    } catch {
      throw new SectorRefused(`not an absolute URL: ${uri}`);
    }
  };
  if (sectorIdentifierUri !== undefined) return host(sectorIdentifierUri);
  const hosts = [...new Set(redirectUris.map(host))];
  if (hosts.length === 1) return hosts[0]!;
  throw new SectorRefused(
    hosts.length === 0
      ? 'a pairwise client needs a redirect URI or a sector identifier URI'
      : `the redirect URIs are on ${hosts.length} hosts (${hosts.join(', ')}): give a sector identifier URI, whose host becomes the sector`,
  );
}

export class PairwiseSubjects {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the pairwise key must be 32 bytes');
    this.#key = key;
  }

  /**
   * The installation's key, made by the first process that asks (replicas starting together
   * agree on the one stored first) and read from the database by every other.
   */
  static async load(deps: { repos: Pick<Repos, 'pairwiseKey'>; box: SecretBox; random: Random; clock: Clock }): Promise<PairwiseSubjects> {
    const candidate = deps.box.seal(deps.random.bytes(32), AAD.pairwiseKey);
    const sealed = await deps.repos.pairwiseKey.ensure(candidate, deps.clock.now());
    return new PairwiseSubjects(deps.box.open(sealed, AAD.pairwiseKey));
  }

  /** What an RP of `sector` sees as the `sub` of `accountId`. */
  subject(accountId: string, sector: string): string {
    return createHmac('sha256', this.#key).update(sector).update('\0').update(accountId).digest('base64url');
  }
}
