/**
 * Changes other replicas must hear about at once (a client registered, changed or removed with
 * the CLI), over Postgres LISTEN/NOTIFY. A writer notifies in the same transaction as its
 * change (`notifyChange`), so a notice is delivered only once the change is committed, to
 * every replica, this one included.
 *
 * A listener that loses its connection cannot know what it missed: it tells its subscribers to
 * forget everything (`onReset`) and reconnects with back-off; until it is back, `live` is false
 * and caches must not answer from memory.
 */
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../log.ts';
import type { Database } from './schema.ts';

export const CHANGES_CHANNEL = 'kapu_changes';

/** A change notice: what kind of thing changed, and which one. */
export interface Change {
  kind: string;
  id: string;
}

/**
 * Queues a notice of `change`, delivered when the caller's transaction commits. (It takes the
 * handle as Kysely<Database>, not database.ts's `Db`: database.ts builds the feeds below, and
 * this file imports nothing back from it.)
 */
export async function notifyChange(db: Kysely<Database>, change: Change): Promise<void> {
  await sql`select pg_notify(${CHANGES_CHANNEL}, ${`${change.kind}:${change.id}`})`.execute(db);
}

export interface ChangeFeed {
  /** True while notices are being received: only then may a cache trust what it holds. */
  readonly live: boolean;
  subscribe(listener: { onChange(change: Change): void; onReset(): void }): void;
  close(): Promise<void>;
}

function parse(payload: string): Change | null {
  const colon = payload.indexOf(':');
  return colon > 0 ? { kind: payload.slice(0, colon), id: payload.slice(colon + 1) } : null;
}

abstract class BaseFeed implements ChangeFeed {
  protected readonly listeners: Array<{ onChange(change: Change): void; onReset(): void }> = [];
  live = false;

  subscribe(listener: { onChange(change: Change): void; onReset(): void }): void {
    this.listeners.push(listener);
  }

  protected deliver(payload: string): void {
    const change = parse(payload);
    if (change) for (const l of this.listeners) l.onChange(change);
  }

  protected reset(): void {
    for (const l of this.listeners) l.onReset();
  }

  abstract close(): Promise<void>;
}

/** LISTEN on a connection of its own (a pooled one would be returned and lose it). */
export class PostgresChangeFeed extends BaseFeed {
  readonly #url: string;
  readonly #log: Logger;
  #client: pg.Client | null = null;
  #closed = false;
  #retryMs = 500;
  #timer: NodeJS.Timeout | undefined;

  constructor(url: string, log: Logger) {
    super();
    this.#url = url;
    this.#log = log;
  }

  /** Connects; resolves once listening (or once the first attempt failed: it retries on its own). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5_000 });
    client.on('notification', (n) => this.deliver(n.payload ?? ''));
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'change feed: cannot listen; caches stay off until it can');
      client.end().catch(() => {});
      this.#schedule();
      return;
    }
    this.#client = client;
    this.#retryMs = 500;
    // Whatever changed while nobody listened is unknown: start from nothing.
    this.reset();
    this.live = true;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.live = false;
    this.reset();
    if (!this.#closed) {
      this.#log.warn('change feed: connection lost; reconnecting');
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.live = false;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}

/** PGlite: one process, one database; its LISTEN needs no connection of its own. */
export class PgliteChangeFeed extends BaseFeed {
  #unlisten: (() => Promise<void>) | null = null;

  async start(pglite: PGlite): Promise<void> {
    this.#unlisten = await pglite.listen(CHANGES_CHANNEL, (payload) => this.deliver(payload));
    this.live = true;
  }

  async close(): Promise<void> {
    this.live = false;
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = null;
  }
}
