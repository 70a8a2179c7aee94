/**
 * The Kysely instance: Postgres through `pg` when DATABASE_URL is set, otherwise the embedded
 * PGlite (a single-connection Postgres in a local folder, for development and tests).
 */
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/index.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

// Return bigint columns (bigserial ids, TOTP time steps) as strings, never lossy numbers,
// and timestamps as Date (pg's default).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export async function createDb(database: Config['database']): Promise<Db> {
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: database.url,
      max: database.poolSize,
      // Fail readiness quickly instead of hanging when the database is unreachable.
      connectionTimeoutMillis: 5_000,
    });
    // A dropped idle connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const { PGlite } = await import('@electric-sql/pglite');
  let pglite;
  if (database.dataDir === 'memory://') {
    pglite = new PGlite();
  } else {
    mkdirSync(database.dataDir, { recursive: true });
    pglite = new PGlite(database.dataDir);
  }
  await pglite.waitReady;
  return new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
}
