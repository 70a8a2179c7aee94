/**
 * A Kysely dialect wrapped to count what kapu asks of Postgres, and, for PGlite, to give one
 * caller at a time its single connection.
 *
 * Counts: `statements` is every statement sent (BEGIN and COMMIT included): the round trips.
 * `transactions` is what pg_stat_database counts: a statement outside a transaction is one,
 * a BEGIN … COMMIT block is one.
 *
 * PGlite has one connection. Kysely's PGlite driver hands it to every caller at once, so a
 * query of one request could run inside another request's open transaction (and be rolled
 * back with it). Here a caller holds the connection from acquire to release, as it would a
 * pooled Postgres connection; a transaction holds it until it ends.
 */
import type { DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import type { CompiledQuery } from 'kysely';

export class DbStats {
  statements = 0;
  transactions = 0;
}

export function instrumentDialect(inner: Dialect, stats: DbStats, options: { singleConnection: boolean }): Dialect {
  return {
    createDriver: () => new InstrumentedDriver(inner.createDriver(), stats, options.singleConnection),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
  };
}

class CountingConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #stats: DbStats;
  inTransaction = false;

  constructor(inner: DatabaseConnection, stats: DbStats) {
    this.inner = inner;
    this.#stats = stats;
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.#stats.statements += 1;
    if (!this.inTransaction) this.#stats.transactions += 1;
    return this.inner.executeQuery<R>(query);
  }

  streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    this.#stats.statements += 1;
    if (!this.inTransaction) this.#stats.transactions += 1;
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class InstrumentedDriver implements Driver {
  readonly #inner: Driver;
  readonly #stats: DbStats;
  readonly #wrapped = new WeakMap<DatabaseConnection, CountingConnection>();
  /** Single connection: the tail of the queue of callers waiting for it. */
  #queue: Promise<void> | null;
  #release: (() => void) | null = null;

  constructor(inner: Driver, stats: DbStats, singleConnection: boolean) {
    this.#inner = inner;
    this.#stats = stats;
    this.#queue = singleConnection ? Promise.resolve() : null;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#queue) {
      const previous = this.#queue;
      let release!: () => void;
      this.#queue = new Promise<void>((resolve) => (release = resolve));
      await previous;
      this.#release = release;
    }
    const connection = await this.#inner.acquireConnection();
    let wrapped = this.#wrapped.get(connection);
    if (!wrapped) {
      wrapped = new CountingConnection(connection, this.#stats);
      this.#wrapped.set(connection, wrapped);
    }
    return wrapped;
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.#inner.releaseConnection((connection as CountingConnection).inner);
    if (this.#release) {
      const release = this.#release;
      this.#release = null;
      release();
    }
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const counting = connection as CountingConnection;
    this.#stats.statements += 1;
    this.#stats.transactions += 1;
    await this.#inner.beginTransaction(counting.inner, settings);
    counting.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const counting = connection as CountingConnection;
    this.#stats.statements += 1;
    try {
      await this.#inner.commitTransaction(counting.inner);
    } finally {
      counting.inTransaction = false;
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const counting = connection as CountingConnection;
    this.#stats.statements += 1;
    try {
      await this.#inner.rollbackTransaction(counting.inner);
    } finally {
      counting.inTransaction = false;
    }
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}
