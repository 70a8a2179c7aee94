/**
 * Hot statements compiled once (src/db/prepared.ts): each call sends the SQL compiled the first
 * time, with its own values where the placeholders were, and constants where they were.
 */
import { type CompiledQuery, type DatabaseConnection, type Driver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type QueryResult, sql } from 'kysely';
import { Prepared } from '../../src/db/prepared.ts';

interface Tables {
  token: { model: string; id: string; expires_at: Date | null };
}

/** A database that records what it is sent and answers no rows. */
function recordingDb(): { db: Kysely<Tables>; sent: CompiledQuery[] } {
  const sent: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query);
      return { rows: [] };
    },
    // eslint-disable-next-line require-yield
    async *streamQuery() {
      throw new Error('not used');
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const db = new Kysely<Tables>({
    dialect: { createAdapter: () => new PostgresAdapter(), createDriver: () => driver, createIntrospector: (k) => new PostgresIntrospector(k), createQueryCompiler: () => new PostgresQueryCompiler() },
  });
  return { db, sent };
}

describe('a prepared statement', () => {
  test("sends each call's values in the placeholders' places, and the builder's constants as they were", async () => {
    const { db, sent } = recordingDb();
    let built = 0;
    const find = new Prepared((k: Kysely<Tables>, p: { id: string; now: Date }) => {
      built += 1;
      return k.selectFrom('token').select('id').where('model', '=', 'Session').where('id', '=', p.id).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', p.now)]));
    });
    const first = new Date('2026-01-01T00:00:00Z');
    const second = new Date('2026-02-01T00:00:00Z');
    await find.execute(db, { id: 'a', now: first });
    await find.execute(db, { id: 'b', now: second });
    expect(built).toBe(1);
    expect(sent[1]!.sql).toBe(sent[0]!.sql);
    expect(sent[0]!.parameters).toEqual(['Session', 'a', first]);
    expect(sent[1]!.parameters).toEqual(['Session', 'b', second]);
  });

  test('an sql template is prepared as well, a value used twice filled in twice', async () => {
    const { db, sent } = recordingDb();
    const touch = new Prepared((_k: Kysely<Tables>, p: { id: string; now: Date }) => sql`update token set expires_at = ${p.now} where id = ${p.id} and expires_at > ${p.now}`);
    const now = new Date();
    await touch.execute(db, { id: 'x', now });
    expect(sent[0]!.parameters).toEqual([now, 'x', now]);
  });

  test('refuses a placeholder the builder would write into the SQL itself, and a value it never uses', async () => {
    const { db } = recordingDb();
    const inlined = new Prepared((_k: Kysely<Tables>, p: { id: string }) => sql`select ${sql.lit(p.id)}`);
    await expect(inlined.execute(db, { id: 'x' })).rejects.toThrow(/placeholder into its SQL/);
    const unused = new Prepared((k: Kysely<Tables>, _p: { id: string; extra: string }) => k.selectFrom('token').select('id'));
    await expect(unused.execute(db, { id: 'x', extra: 'y' })).rejects.toThrow(/does not use id, extra/);
  });
});
