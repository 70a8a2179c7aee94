/**
 * The unit of work: every step of kapu's core runs against repositories bound to one database
 * handle, either a transaction (`transaction`) or single self-contained statements (`run`).
 * Repositories never open transactions or take a transaction from their caller: they are
 * built over whichever handle the unit of work gives them, so each query is written once.
 *
 * The two sets have two types. A read that locks what it read for the rest of the transaction
 * (`select … for update`, an advisory lock) is declared `this: InTransaction<…>`: it can only
 * be called on the set `transaction` hands out (`TransactionRepos`), never on `repos`, where
 * its lock would end with its own statement and guard nothing. A statement that takes row locks
 * and writes in the same breath (a claim `for update skip locked`, counters locked in key
 * order) needs no transaction and stays on both.
 *
 * What must happen only once the work is committed (wake the mail sender, count a security
 * event in the metrics, hear of a change) is registered with `afterCommit`: after a rollback
 * it never happens.
 */
import type { Db } from './database.ts';

declare const IN_TRANSACTION: unique symbol;

/** A repository built over an open transaction (only `UnitOfWork.transaction` makes one). */
export type InTransaction<R> = R & { readonly [IN_TRANSACTION]: true };

/**
 * A repository a factor brings from its folder (src/factors/<id>/), over its own tables: a set
 * of repositories builds it over its own handle when `of(key)` first asks for it.
 */
export interface RepositoryKey<R> {
  readonly make: RepositoryFactory<R>;
}

/** How a set of repositories hands out a factor's own repository (`repos.of(KEY)`). */
export type RepositoryLookup = <T>(key: RepositoryKey<T>) => T;

/**
 * A set of repositories, each built over the same open transaction; a factor's own repository
 * that its lookup hands out is built over it too, and branded as such.
 */
export type TransactionRepos<R> = {
  readonly [K in keyof R]: R[K] extends RepositoryLookup ? <T>(key: RepositoryKey<T>) => InTransaction<T> : InTransaction<R[K]>;
};

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

  /**
   * `fn` in one transaction: all of its writes or none. An exception rolls back. Its
   * repositories may take locks that hold until the transaction ends.
   */
  async transaction<T>(fn: (repos: TransactionRepos<R>) => Promise<T>): Promise<T> {
    const committed: Array<() => void> = [];
    const effects: Effects = { afterCommit: (f) => void committed.push(f) };
    // The one place that knows the handle is a transaction: the brand is given here only.
    const result = await this.#db.transaction().execute((trx) => fn(this.#make(trx, effects) as TransactionRepos<R>));
    for (const f of committed) f();
    return result;
  }
}
