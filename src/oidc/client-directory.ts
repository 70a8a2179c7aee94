/**
 * The relying parties, as every request needs them (oidc-provider's Client model, the sign-in
 * pages' client name and minimum level), kept in memory. A change written on any replica or by
 * the CLI reaches every replica's directory through the change feed (LISTEN/NOTIFY, sent in the
 * same statement as the change) within moments of its commit.
 *
 * Only what is in the database is cached: an unknown client id is asked again each time. While
 * the feed is down nothing is answered from memory, and what was cached is dropped, because
 * notices may have been missed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { ClientsRepository } from '../db/repositories/clients.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

export interface ClientRecord {
  clientId: string;
  name: string | null;
  /** Hash of the logo the operator gave (served at logoPath), or null: the pages show none. */
  logoSha256: string | null;
  /** The RP's home page (client_uri), if it is an http(s) URL: the pages link to it. */
  homepage: string | null;
  /** The lowest acr this RP accepts (client metadata `min_acr`), if it set one. */
  minAcr: string | undefined;
  /** Registered government RPs are first-party (no consent screen) unless registered to ask. */
  firstParty: boolean;
  /** A pairwise client's sector (its `sub` values are derived for it); null: a public client. */
  sector: string | null;
  /** The metadata oidc-provider is given: stored metadata, client_id, subject_type, the opened secret. */
  metadata: Record<string, unknown>;
}

/** Registered government RPs are first-party (no consent screen) unless registered to ask. */
export function isFirstParty(client: object): boolean {
  return (client as Record<string, unknown>)['consent_required'] !== true;
}

export class ClientDirectory {
  readonly #repo: ClientsRepository;
  readonly #box: SecretBox;
  readonly #changes: ChangeFeed;
  readonly #cache = new Map<string, ClientRecord>();
  /** Bumped by every notice: a read that started before one is not cached. */
  #generation = 0;

  constructor(repo: ClientsRepository, box: SecretBox, changes: ChangeFeed) {
    this.#repo = repo;
    this.#box = box;
    this.#changes = changes;
    changes.subscribe({
      onChange: (change) => {
        if (change.kind !== 'client') return;
        this.#generation += 1;
        this.#cache.delete(change.id);
      },
      onReset: () => {
        this.#generation += 1;
        this.#cache.clear();
      },
    });
  }

  /**
   * A secret the cached copy did not accept: is it the client's current secret or its previous
   * one still in its grace period, as the database has them now? (A rotation made a moment ago
   * on another machine may not have reached this replica's cache yet.) Compared as hashes in
   * constant time, like the provider compares the current one.
   */
  async secretMatchesStored(clientId: string, actual: string, now: Date): Promise<boolean> {
    const row = await this.#repo.find(clientId);
    if (!row) return false;
    const digest = (s: string) => createHash('sha256').update(s).digest();
    const given = digest(actual);
    const candidates: string[] = [];
    if (row.secret_sealed) candidates.push(this.#box.openText(row.secret_sealed, AAD.clientSecret(row.client_id)));
    if (row.previous_secret_sealed && row.previous_secret_expires_at && row.previous_secret_expires_at > now) {
      candidates.push(this.#box.openText(row.previous_secret_sealed, AAD.clientSecret(row.client_id)));
    }
    let matched = false;
    for (const secret of candidates) matched = timingSafeEqual(digest(secret), given) || matched;
    return matched;
  }

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const live = this.#changes.live;
    if (live) {
      const cached = this.#cache.get(clientId);
      if (cached) return cached;
    }
    const generation = this.#generation;
    const row = await this.#repo.find(clientId);
    if (!row) return undefined;
    const metadata: Record<string, unknown> = { ...row.metadata, client_id: row.client_id, subject_type: row.subject_type };
    if (row.secret_sealed) metadata['client_secret'] = this.#box.openText(row.secret_sealed, AAD.clientSecret(row.client_id));
    const record: ClientRecord = {
      clientId: row.client_id,
      name: typeof metadata['client_name'] === 'string' ? metadata['client_name'] : null,
      logoSha256: row.logo_sha256,
      homepage: webUrl(metadata['client_uri']),
      minAcr: typeof metadata['min_acr'] === 'string' ? metadata['min_acr'] : undefined,
      firstParty: isFirstParty(metadata),
      sector: row.subject_type === 'pairwise' ? row.sector : null,
      metadata,
    };
    if (live && this.#changes.live && generation === this.#generation) this.#cache.set(clientId, record);
    return record;
  }
}

/**
 * `value` if it is an absolute http(s) URL, else null. The CLI and the provider accept nothing
 * else for client_uri; checked again here because the pages put it in a link's href, where a
 * `javascript:` URL would run.
 */
export function webUrl(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
