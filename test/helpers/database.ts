/**
 * A test file's own database, copied from the one migrated once per run
 * (test/setup/global-setup.ts): on Postgres (DATABASE_URL) a new database made from the
 * template; on PGlite an in-memory database, or a DATA_DIR folder for a process, loaded from the
 * migrated snapshot. `migrated: false` gives an empty one (for the tests of migrating itself).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../../src/config/index.ts';
import { type OpenDatabase, openDatabase } from '../../src/db/database.ts';
import type { Logger } from '../../src/log.ts';

export interface TestDatabase {
  /** Postgres: this file's database; null: the embedded PGlite. */
  url: string | null;
  drop(): Promise<void>;
}

export async function freshDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const base = process.env['DATABASE_URL'];
  if (!base) return { url: null, drop: async () => {} };
  const name = `kapu_test_${randomBytes(6).toString('hex')}`;
  const template = options.migrated === false ? undefined : process.env['KAPU_TEST_TEMPLATE'];
  await onServer(base, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => onServer(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function onServer(base: string, sql: string): Promise<void> {
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The migrated snapshot's tarball, when this run made one (it does, in global setup). */
function snapshot(): string | undefined {
  const file = process.env['KAPU_TEST_PGLITE_SNAPSHOT'];
  return file && existsSync(file) ? file : undefined;
}

/**
 * An embedded database already migrated, in memory, for `config` (a PGlite config): what
 * startKapu and buildDeps take as `database`. Undefined for Postgres, or without a snapshot.
 */
export async function embeddedDatabase(config: Config, log: Logger): Promise<OpenDatabase | undefined> {
  const file = snapshot();
  if (config.database.kind !== 'pglite' || config.database.dataDir !== 'memory://' || !file) return undefined;
  return openDatabase(config.database, log, { pgliteFrom: new Blob([readFileSync(file)]) });
}

/**
 * The database of `config` opened for a test to share between many openings of kapu's
 * dependencies (CLI commands run in-process): on PGlite a new in-memory database, migrated
 * unless asked otherwise (its DATA_DIR then only keeps the development keys); on Postgres a
 * pool on DATABASE_URL.
 */
export async function openTestDatabase(config: Config, log: Logger, options: { migrated?: boolean } = {}): Promise<OpenDatabase> {
  if (config.database.kind === 'postgres') return openDatabase(config.database, log);
  const file = options.migrated === false ? undefined : snapshot();
  return openDatabase({ kind: 'pglite', dataDir: 'memory://' }, log, { ...(file && { pgliteFrom: new Blob([readFileSync(file)]) }) });
}

/** `database` lent to code that closes what it is given: its close() leaves it open. */
export function borrowed(database: OpenDatabase): OpenDatabase {
  return { ...database, close: async () => {} };
}

/**
 * Fills `dir` (a new DATA_DIR) with the migrated embedded database, as a process started on it
 * would find a database it had migrated itself. The folder is unpacked once per run, then
 * copied.
 */
export async function migratedDataDir(dir: string): Promise<void> {
  const file = snapshot();
  if (!file) return;
  const unpacked = `${file}.d`;
  if (!existsSync(unpacked)) {
    const partial = `${unpacked}.${process.pid}.${randomBytes(4).toString('hex')}`;
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = new PGlite(partial, { loadDataDir: new Blob([readFileSync(file)]) });
    await pglite.waitReady;
    await pglite.close();
    try {
      renameSync(partial, unpacked);
    } catch {
      // Another test file unpacked it first: theirs is the same.
      rmSync(partial, { recursive: true, force: true });
    }
  }
  mkdirSync(dir, { recursive: true });
  cpSync(unpacked, dir, { recursive: true });
}
