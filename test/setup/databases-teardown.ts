/** After the last test file: the template database goes (the PGlite snapshot stays cached). */
import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const base = process.env['DATABASE_URL'];
  const template = process.env['KAPU_TEST_TEMPLATE'];
  if (!base || !template) return;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
