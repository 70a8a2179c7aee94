/** `kapu migrate`: applies migrations/ (under Kysely's lock, so safe beside running replicas). */
import { createLogger } from '../log.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { parse } from './args.ts';
import type { Command } from './context.ts';

const migrate: Command = {
  name: 'migrate',
  synopsis: '',
  summary: 'apply database migrations and print what was applied',
  async run(cli, args) {
    parse(this.name, args, {});
    // Only the database: no keys, mail or factors are needed to migrate.
    const database = await cli.openDatabase(createLogger('silent'));
    try {
      const applied = await migrateToLatest(database.db);
      cli.result({ applied }, () => {
        if (applied.length === 0) cli.out('database is up to date: no migrations to apply');
        for (const name of applied) cli.out(`applied ${name}`);
      });
    } finally {
      await database.close();
    }
  },
};

export const migrateCommands: Command[] = [migrate];
