/**
 * The database: Postgres through `pg` when DATABASE_URL is set, otherwise the embedded PGlite (a
 * single-connection Postgres in a local folder, for development and tests). Every statement is
 * counted (`stats`, exported as metrics), and changes other replicas must hear of arrive
 * through `changes` (LISTEN/NOTIFY).
 */
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { type ChangeFeed, PgliteChangeFeed, PostgresChangeFeed } from './change-feed.ts';
import { DbStats, instrumentDialect } from './instrumented-dialect.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export interface OpenDatabase {
  db: Db;
  stats: DbStats;
  changes: ChangeFeed;
  close(): Promise<void>;
}

// Return bigint columns (bigserial ids, TOTP time steps) as strings, never lossy numbers,
// and timestamps as Date (pg's default).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export interface OpenOptions {
  /** PGlite: start from this data folder (a dumpDataDir tarball) instead of an empty one. Tests
   * use it to begin every file from a database migrated once per run. */
  pgliteFrom?: Blob;
}

export async function openDatabase(database: Config['database'], log: Logger, options: OpenOptions = {}): Promise<OpenDatabase> {
  const stats = new DbStats();
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: database.url,
      max: database.poolSize,
      // Fail readiness quickly instead of hanging when the database is unreachable.
      connectionTimeoutMillis: 5_000,
    });
    // A dropped idle connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    // Nor one dropped while a request holds it (pg's pool listens only to idle ones): the
    // request's next statement fails (the database is away: a 503), and the pool discards it.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: instrumentDialect(new PostgresDialect({ pool }), stats, { singleConnection: false }) });
    const changes = new PostgresChangeFeed(database.url, log);
    await changes.start();
    return { db, stats, changes, close: async () => (await changes.close(), await db.destroy()) };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  let pglite;
  let release = () => {};
  if (database.dataDir === 'memory://') {
    // Its files are already in memory, so Postgres's own page cache would only copy them again:
    // 16 MB instead of the default 128, which also takes an opening from 0.8 to 0.3 s of CPU
    // (the cache is zeroed at start; tests open one for every kapu they start).
    pglite = new PGlite({ startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'], ...(options.pgliteFrom && { loadDataDir: options.pgliteFrom }) });
  } else {
    mkdirSync(database.dataDir, { recursive: true });
    // Only one process may open an embedded database (see data-dir-lock.ts).
    release = lockDataDir(database.dataDir);
    pglite = new PGlite(database.dataDir);
  }
  try {
    await pglite.waitReady;
  } catch (err) {
    release();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: instrumentDialect(new PGliteDialect({ pglite }), stats, { singleConnection: true }) });
  const changes = new PgliteChangeFeed();
  await changes.start(pglite);
  return {
    db,
    stats,
    changes,
    close: async () => {
      await changes.close();
      await db.destroy();
      release();
    },
  };
}
