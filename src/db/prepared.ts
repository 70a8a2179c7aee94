/**
 * Hot statements built and compiled once. Building a Kysely query and compiling it to SQL costs
 * more event-loop time than sending it: in a profile of password sign-ins, Kysely was the
 * largest single module on kapu's event loop. A statement whose shape never changes (only its
 * values do) is built once here with named placeholders, compiled, and from then on sent with
 * the values put where the placeholders were.
 *
 * Only for fixed shapes: a list whose length varies (`in (…)`, several rows) is part of the
 * shape, so it belongs in the key of a `PreparedShapes`. A placeholder Kysely would write into
 * the SQL instead of sending as a value is refused when the statement is first compiled.
 */
import type { CompiledQuery, Compilable, Kysely, QueryResult, RawBuilder } from 'kysely';

const MARK = '\u0000kapu-placeholder:';

/** What a statement's builder gets for each value: stands in for it when it is compiled. */
export type Placeholders<P> = { readonly [K in keyof P]: P[K] };

/** A query builder or an `sql` template. */
type Statement<R> = Compilable<R> | RawBuilder<R>;

type Slot<P> = { name: keyof P } | { value: unknown };

export class Prepared<DB, P extends Record<string, unknown>, R> {
  readonly #build: (db: Kysely<DB>, p: Placeholders<P>) => Statement<R>;
  #compiled: CompiledQuery<R> | undefined;
  #slots: Array<Slot<P>> = [];

  constructor(build: (db: Kysely<DB>, p: Placeholders<P>) => Statement<R>) {
    this.#build = build;
  }

  async execute(db: Kysely<DB>, values: P): Promise<QueryResult<R>> {
    const compiled = this.#compiled ?? this.#compile(db, values);
    const parameters = this.#slots.map((slot) => ('name' in slot ? values[slot.name] : slot.value));
    return db.executeQuery<R>({ ...compiled, parameters });
  }

  #compile(db: Kysely<DB>, values: P): CompiledQuery<R> {
    const placeholders = Object.fromEntries(Object.keys(values).map((name) => [name, `${MARK}${name}`])) as unknown as Placeholders<P>;
    // A builder compiles itself; an `sql` template compiles with the database's dialect.
    const compiled = (this.#build(db, placeholders) as { compile(db: Kysely<DB>): CompiledQuery<R> }).compile(db);
    if (compiled.sql.includes(MARK)) throw new Error(`a prepared statement wrote a placeholder into its SQL: ${compiled.sql}`);
    this.#slots = compiled.parameters.map((v) => (typeof v === 'string' && v.startsWith(MARK) ? { name: v.slice(MARK.length) as keyof P } : { value: v }));
    const used = new Set(this.#slots.flatMap((s) => ('name' in s ? [s.name] : [])));
    const unused = Object.keys(values).filter((name) => !used.has(name));
    if (unused.length > 0) throw new Error(`a prepared statement does not use ${unused.join(', ')}`);
    this.#compiled = compiled;
    return compiled;
  }
}

/** Prepared statements of one kind, by shape (how many rows, which column). */
export class PreparedShapes<DB, P extends Record<string, unknown>, R> {
  readonly #shapes = new Map<string, Prepared<DB, P, R>>();
  /** Shapes kept at most: a shape is a count of rows, and requests write a handful. */
  readonly #max: number;

  constructor(max = 64) {
    this.#max = max;
  }

  get(shape: string, build: (db: Kysely<DB>, p: Placeholders<P>) => Statement<R>): Prepared<DB, P, R> {
    let prepared = this.#shapes.get(shape);
    if (!prepared) {
      prepared = new Prepared(build);
      if (this.#shapes.size < this.#max) this.#shapes.set(shape, prepared);
    }
    return prepared;
  }
}
