/**
 * Once per test run, before any test file: the database every test file starts from, migrated
 * once instead of once per file.
 * - Postgres (DATABASE_URL): a template database; each test file's database is
 *   `CREATE DATABASE … TEMPLATE` of it (test/helpers/database.ts), a file copy on the server.
 * - PGlite: a migrated data folder, kept as a tarball that each file loads into its own
 *   in-memory PGlite (or unpacks into a temp DATA_DIR for a process). The tarball is cached
 *   under node_modules/.cache, named by the migrations and PGlite's version, so a second run on
 *   the same checkout skips even this.
 * What the files need is passed on in environment variables (workers start after this).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default async function globalSetup(): Promise<void> {
  const base = process.env['DATABASE_URL'];
  if (base) process.env['KAPU_TEST_TEMPLATE'] = await postgresTemplate(base);
  process.env['KAPU_TEST_PGLITE_SNAPSHOT'] = await pgliteSnapshot();
}

async function postgresTemplate(base: string): Promise<string> {
  const name = `kapu_template_${randomBytes(6).toString('hex')}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.href, max: 1 }) }) });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return name;
}

async function pgliteSnapshot(): Promise<string> {
  const dir = join(ROOT, 'node_modules', '.cache', 'kapu-test');
  const file = join(dir, `pglite-${snapshotKey()}.tar`);
  if (existsSync(file)) return file;
  const { PGlite } = await import('@electric-sql/pglite');
  // Small, as every test file unpacks it: 1 MB WAL segments instead of 16, and no template
  // databases (kapu works in `postgres` and never creates a database): 16 MB instead of 41.
  const pglite = new PGlite({ initDbStartParams: ['--wal-segsize=1'] });
  const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) });
  try {
    await migrateToLatest(db);
    await pglite.exec('ALTER DATABASE template0 IS_TEMPLATE false; ALTER DATABASE template1 IS_TEMPLATE false');
    await pglite.exec('DROP DATABASE template0');
    await pglite.exec('DROP DATABASE template1');
    await pglite.exec('CHECKPOINT');
    const tarball = await pglite.dumpDataDir('none');
    mkdirSync(dir, { recursive: true });
    // Written whole, then renamed: a run beside this one never reads half a file.
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()));
    renameSync(partial, file);
    // Snapshots of earlier migrations (and their unpacked folders) are of no more use.
    for (const old of readdirSync(dir)) if (old.startsWith('pglite-') && !old.startsWith(basename(file))) rmSync(join(dir, old), { recursive: true, force: true });
  } finally {
    await db.destroy();
  }
  return file;
}

/** The migrations' content and PGlite's version: a change to either makes a new snapshot. */
function snapshotKey(): string {
  const hash = createHash('sha256');
  const migrations = join(ROOT, 'migrations');
  for (const name of readdirSync(migrations).sort()) hash.update(name).update(readFileSync(join(migrations, name)));
  const pglite = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string };
  // v2: the small snapshot (1 MB WAL segments, no template databases).
  return hash.update(pglite.version).update('v2').digest('hex').slice(0, 16);
}
