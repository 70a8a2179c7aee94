/**
 * The unit of work: every step of kapu's core runs against repositories bound to one database
 * handle, either a transaction (`transaction`) or single self-contained statements (`run`).
 * Repositories never open transactions or take a transaction from their caller: they are
 * built over whichever handle the unit of work gives them, so each query is written once.
 *
 * What must happen only once the work is committed (wake the mail sender, count a security
 * event in the metrics, hear of a change) is registered with `afterCommit`: after a rollback
 * it never happens.
 */
import type { Db } from './database.ts';

export interface Effects {
  /** Runs `fn` once the current unit of work has committed (at once outside a transaction). */
  afterCommit(fn: () => void): void;
}

export type RepositoryFactory<R> = (db: Db, effects: Effects) => R;

const IMMEDIATE: Effects = { afterCommit: (fn) => fn() };

export class UnitOfWork<R> {
  readonly #db: Db;
  readonly #make: RepositoryFactory<R>;
  readonly #direct: R;

  constructor(db: Db, make: RepositoryFactory<R>) {
    this.#db = db;
    this.#make = make;
    this.#direct = make(db, IMMEDIATE);
  }

  /**
   * Repositories whose every statement stands alone: for reads, and for writes that are one
   * statement (a statement is atomic on its own). No BEGIN/COMMIT round trips.
   */
  get repos(): R {
    return this.#direct;
  }

  run<T>(fn: (repos: R) => Promise<T>): Promise<T> {
    return fn(this.#direct);
  }

  /** `fn` in one transaction: all of its writes or none. An exception rolls back. */
  async transaction<T>(fn: (repos: R) => Promise<T>): Promise<T> {
    const committed: Array<() => void> = [];
    const effects: Effects = { afterCommit: (f) => void committed.push(f) };
    const result = await this.#db.transaction().execute((trx) => fn(this.#make(trx, effects)));
    for (const f of committed) f();
    return result;
  }
}
