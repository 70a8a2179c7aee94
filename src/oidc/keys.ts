/**
 * Signing keys live in the database, sealed, so every replica signs with the same keys.
 * The first replica to start generates one ES256 and one RS256 key; the others load them.
 *
 * Rotation (`keys rotate`) adds a next key per algorithm that is published in JWKS at once but
 * signs only from `signs_from` (by default a day later: longer than any RP caches JWKS), so no
 * RP ever sees a token signed by a key it does not know. The key it replaces stays published
 * until every token it signed has expired. Each key's state follows from those times and the
 * clock alone, so every replica agrees without talking to the others; a rotation reaches them
 * through the change feed, and the moment a key starts signing is noticed on the next request.
 */
import { generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type Provider from 'oidc-provider';
import type { JWK } from 'oidc-provider';
// oidc-provider builds its key store once, from `jwks`; rebuilding it is what lets the set change
// without a restart. Its initialiser is not part of the public API (pinned by the lock file;
// test/e2e/key-rotation.test.ts fails if it changes).
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import type { Clock } from '../clock.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { Repos } from '../db/repositories/index.ts';
import { SIGNING_KEYS_CHANGE } from '../db/repositories/signing-keys.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Logger } from '../log.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

const generate = promisify(generateKeyPair);
export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

/**
 * The longest any token kapu signs stays valid: the ID token (an hour; access and refresh tokens
 * are opaque). A replaced key stays published this long after it stopped signing.
 */
export const LONGEST_SIGNED_TOKEN_SECONDS = 60 * 60;

/** While the change feed is down, the key set is read again at most this often. */
const RELOAD_WITHOUT_FEED_MS = 30_000;
/**
 * With the database away, a request waits at most this long for a reload, then is answered
 * with the keys already held (discovery and JWKS stay up); a failed reload is tried again after
 * `RETRY_RELOAD_MS`, so a request meanwhile does not wait at all.
 */
const RELOAD_WAIT_MS = 1_000;
const RETRY_RELOAD_MS = 5_000;

export type KeyState = 'next' | 'current' | 'previous' | 'retired';

export interface KeyTimes {
  kid: string;
  alg: string;
  created_at: Date;
  signs_from: Date;
  retired_at: Date | null;
}

export interface KeyStatus<K extends KeyTimes> {
  key: K;
  state: KeyState;
  /** next: when it starts signing; previous: when it leaves JWKS. */
  until: Date | null;
}

/**
 * Each key's state at `now`. Per algorithm: the newest key whose `signs_from` has come signs
 * (current); newer ones wait (next); an older one stopped signing when the key after it
 * started, and stays published `keepSeconds` longer (previous), then is retired.
 */
export function keyStates<K extends KeyTimes>(keys: K[], now: Date, keepSeconds = LONGEST_SIGNED_TOKEN_SECONDS): KeyStatus<K>[] {
  const out: KeyStatus<K>[] = [];
  const byAlg = new Map<string, K[]>();
  for (const key of keys) byAlg.set(key.alg, [...(byAlg.get(key.alg) ?? []), key]);
  for (const group of byAlg.values()) {
    group.sort((a, b) => b.signs_from.getTime() - a.signs_from.getTime() || b.created_at.getTime() - a.created_at.getTime());
    let successorStart: Date | null = null;
    for (const key of group) {
      if (key.retired_at) {
        out.push({ key, state: 'retired', until: null });
      } else if (key.signs_from > now) {
        out.push({ key, state: 'next', until: key.signs_from });
      } else if (successorStart === null) {
        out.push({ key, state: 'current', until: null });
      } else {
        const leaves = new Date(successorStart.getTime() + keepSeconds * 1000);
        out.push(leaves > now ? { key, state: 'previous', until: leaves } : { key, state: 'retired', until: null });
      }
      if (!key.retired_at && key.signs_from <= now) successorStart = key.signs_from;
    }
  }
  return out;
}

async function newPrivateJwk(alg: string): Promise<JWK> {
  const { privateKey } =
    alg === 'ES256'
      ? await generate('ec', { namedCurve: 'P-256' })
      : await generate('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' }) as JWK;
}

async function addKey(r: Repos, box: SecretBox, alg: string, now: Date, signsFrom: Date): Promise<string> {
  const kid = randomUUID();
  const jwk = { ...(await newPrivateJwk(alg)), kid, alg, use: 'sig' };
  await r.signingKeys.add({ kid, alg, sealed: box.seal(JSON.stringify(jwk), AAD.signingKey(kid)), now, signsFrom });
  return kid;
}

/** Makes the keys the first replica needs: one signing key per algorithm, signing at once. */
async function ensureKeys(uow: UnitOfWork<Repos>, box: SecretBox, clock: Clock) {
  return uow.transaction(async (r) => {
    await r.signingKeys.lock();
    const present = await r.signingKeys.active();
    for (const alg of SIGNING_ALGS) {
      if (present.some((k) => k.alg === alg)) continue;
      const now = clock.now();
      await addKey(r, box, alg, now, now);
    }
    return r.signingKeys.active();
  });
}

/**
 * Adds the next key of each algorithm, signing from `now + delaySeconds`. Refused while a
 * rotation is still pending (its next key has not started signing yet).
 */
export async function rotateSigningKeys(uow: UnitOfWork<Repos>, box: SecretBox, clock: Clock, delaySeconds: number) {
  return uow.transaction(async (r) => {
    await r.signingKeys.lock();
    const now = clock.now();
    const present = await r.signingKeys.active();
    // Before kapu's first start there is nothing to replace: make the keys that start would.
    for (const alg of SIGNING_ALGS) if (!present.some((k) => k.alg === alg)) await addKey(r, box, alg, now, now);
    const pending = keyStates(present, now).filter((s) => s.state === 'next');
    if (pending.length > 0) return { rotated: [] as Array<{ kid: string; alg: string; signsFrom: Date }>, pending: pending.map((p) => p.key) };
    const signsFrom = new Date(now.getTime() + delaySeconds * 1000);
    const rotated = [];
    for (const alg of SIGNING_ALGS) rotated.push({ kid: await addKey(r, box, alg, now, signsFrom), alg, signsFrom });
    await r.audit.record({ type: 'key.rotated', detail: { kids: rotated.map((k) => k.kid).join(','), signs_from: signsFrom.toISOString() } }, now);
    return { rotated, pending: [] };
  });
}

/**
 * The keys one replica's provider holds, in the order oidc-provider needs: it signs with the
 * first key of an algorithm, so the current key comes first, then the next and previous ones
 * (published, used only to verify).
 */
export class SigningKeyRing {
  readonly #uow: UnitOfWork<Repos>;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #changes: ChangeFeed;
  /** Opened private keys by kid: a key is opened once per process. */
  readonly #opened = new Map<string, JWK>();
  #rows: KeyTimes[] = [];
  #stale = true;
  #loadedAt = 0;
  /** When a key next changes state by time alone (a next key starts signing, an old one leaves). */
  #nextChange: Date | null = null;
  #inFlight: Promise<void> | null = null;
  /** Until when (Date.now()) requests wait for the reload in flight. */
  #waitUntil = 0;
  #installedOn: Provider | null = null;
  readonly #log: Logger;
  /** After a failed reload: not before this (Date.now()); the keys held serve meanwhile. */
  #retryAt = 0;
  #failing = false;

  constructor(deps: { uow: UnitOfWork<Repos>; box: SecretBox; clock: Clock; changes: ChangeFeed; log: Logger }) {
    this.#uow = deps.uow;
    this.#box = deps.box;
    this.#clock = deps.clock;
    this.#changes = deps.changes;
    this.#log = deps.log;
    this.#changes.subscribe({
      onChange: (change) => {
        if (change.kind === SIGNING_KEYS_CHANGE.kind) this.#stale = true;
      },
      onReset: () => {
        this.#stale = true;
      },
    });
  }

  /** Loads (making them on a first start) the keys; returns the JWKS to configure the provider with. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const rows = await ensureKeys(this.#uow, this.#box, this.#clock);
    this.#stale = false;
    this.#remember(rows);
    return { keys: this.#ordered() };
  }

  /** Keeps `provider`'s key store in step before each request it serves. */
  install(provider: Provider): void {
    this.#installedOn = provider;
    provider.use(async (_ctx, next) => {
      await this.refresh();
      await next();
    });
  }

  /**
   * Reloads the key set when a rotation was announced (or the feed is down), or rebuilds the
   * store when a key's time came. Never fails a request: with the database away, the keys held
   * go on serving (they change state by time alone), and the reload is tried again later.
   */
  async refresh(): Promise<void> {
    const now = this.#clock.now();
    const due = this.#stale || (!this.#changes.live && Date.now() - this.#loadedAt > RELOAD_WITHOUT_FEED_MS);
    const reload = due && Date.now() >= this.#retryAt;
    const timeCame = this.#nextChange !== null && now >= this.#nextChange;
    if (!reload && !timeCame) return;
    if (!this.#inFlight) {
      // Cleared only after it is stored: the body may finish without awaiting anything.
      const run = this.#rebuild(reload);
      this.#inFlight = run;
      this.#waitUntil = Date.now() + RELOAD_WAIT_MS;
      void run
        .finally(() => {
          if (this.#inFlight === run) this.#inFlight = null;
        })
        .catch(() => {});
    }
    await waitAtMost(this.#inFlight, this.#waitUntil - Date.now());
  }

  async #rebuild(reload: boolean): Promise<void> {
    if (reload) {
      this.#stale = false;
      try {
        this.#remember(await this.#uow.repos.signingKeys.active());
        if (this.#failing) this.#log.info('signing keys reloaded: the database answers again');
        this.#failing = false;
      } catch (err) {
        this.#stale = true;
        this.#retryAt = Date.now() + RETRY_RELOAD_MS;
        if (!this.#failing) this.#log.warn({ err }, 'signing keys: reloading them failed; serving the keys held');
        this.#failing = true;
        this.#schedule();
      }
    } else {
      this.#schedule();
    }
    if (this.#installedOn) initializeKeystore.call(this.#installedOn, { keys: this.#ordered() });
  }

  #remember(rows: Array<KeyTimes & { private_jwk_sealed: string }>): void {
    for (const row of rows) {
      if (!this.#opened.has(row.kid)) this.#opened.set(row.kid, JSON.parse(this.#box.openText(row.private_jwk_sealed, AAD.signingKey(row.kid))) as JWK);
    }
    this.#rows = rows.map(({ kid, alg, created_at, signs_from, retired_at }) => ({ kid, alg, created_at, signs_from, retired_at }));
    this.#loadedAt = Date.now();
    this.#schedule();
  }

  #schedule(): void {
    const times = keyStates(this.#rows, this.#clock.now())
      .map((s) => s.until)
      .filter((t): t is Date => t !== null);
    this.#nextChange = times.length === 0 ? null : new Date(Math.min(...times.map((t) => t.getTime())));
  }

  #ordered(): JWK[] {
    const states = keyStates(this.#rows, this.#clock.now());
    const rank: Record<KeyState, number> = { current: 0, next: 1, previous: 2, retired: 3 };
    return states
      .filter((s) => s.state !== 'retired')
      .sort((a, b) => rank[a.state] - rank[b.state])
      .map((s) => this.#opened.get(s.key.kid)!);
  }
}

/** Waits for `work` (a failure of its own is the caller's), but no longer than `ms`. */
async function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  const enough = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, enough]).finally(() => clearTimeout(timer));
}
