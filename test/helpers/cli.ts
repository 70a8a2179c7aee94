/**
 * The admin CLI run in-process through `runCli`, as the integration tests drive it: against a
 * database of the test file's own (PGlite, or a fresh database on DATABASE_URL's server), opened
 * once for the file and left unmigrated, so that `migrate` has work to do. The real process
 * (argv, piped stdin, exit codes) is test/e2e/cli-process.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import type { Run } from './cli-process.ts';
import { borrowed, freshDatabase, openTestDatabase } from './database.ts';
import { testEnv } from './env.ts';

export interface InProcessCli {
  /** The operator's environment the commands run with. */
  env: Record<string, string>;
  /** A folder of the test's own, for files it hands the CLI (on PGlite, DATA_DIR is `data` in it). */
  dir: string;
  /** One command, with `stdin` and extra environment; what it printed and its exit code. */
  run(argv: string[], stdin?: string, extra?: Record<string, string>): Promise<Run>;
  /** kapu's dependencies on the same database, to look at what a command stored. */
  inspect<T>(fn: (deps: Deps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function inProcessCli(): Promise<InProcessCli> {
  const dir = mkdtempSync(join(tmpdir(), 'kapu-cli-'));
  const database = await freshDatabase({ migrated: false });
  const env: Record<string, string> = database.url
    ? {
        // Keys given explicitly, as an operator running on Postgres would.
        NODE_ENV: 'test',
        DATABASE_URL: database.url,
        DATABASE_POOL_SIZE: '2',
        ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        COOKIE_KEYS: randomBytes(32).toString('base64url'),
      }
    : // Keys unset on purpose: development keys are generated once and kept in DATA_DIR; the
      // database itself is shared in memory.
      { NODE_ENV: 'test', DATA_DIR: join(dir, 'data') };
  const shared = await openTestDatabase(loadConfig(env), createLogger('silent'), { migrated: false });

  return {
    env,
    dir,
    async run(argv, stdin = '', extra = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, {
        stdin,
        stdout: (s) => (stdout += s),
        stderr: (s) => (stderr += s),
        env: testEnv({ ...env, ...extra }),
        database: shared,
      });
      return { code, stdout, stderr };
    },
    async inspect(fn) {
      const deps = await buildDeps(loadConfig(testEnv({ ...env, LOG_LEVEL: 'silent' })), { database: borrowed(shared) });
      try {
        return await fn(deps);
      } finally {
        await closeDeps(deps);
      }
    },
    async close() {
      await shared.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
