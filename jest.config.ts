/**
 * Jest runs kapu's TypeScript as native ES modules (`--experimental-vm-modules`), the same way
 * Node 22 runs it in production: swc only strips types, and the explicit `.ts` import
 * extensions stay as they are, so Jest resolves the real files.
 *
 * The tests are a pyramid, one Jest project per layer (`npm test -- --selectProjects unit`):
 * - unit: no database, network or process; the rules themselves, in milliseconds.
 * - integration: repositories and the sign-in core on a real database (PGlite, or Postgres with
 *   DATABASE_URL).
 * - e2e: real kapu servers, a real SMTP server, openid-client as the RP, real processes.
 * - browser: Chromium (Debian's) with axe; skipped where no Chromium is installed.
 * - reliability: faults (a cut database, SMTP away, killed replicas); Postgres only.
 * The database is migrated once per run (test/setup/global-setup.ts); each test file gets a
 * copy of it.
 *
 * `npm test` runs Node with `--liftoff-only`: WebAssembly (the embedded database) stays with
 * V8's baseline compiler. A test's embedded database lives for a few hundred statements, and
 * compiling its hot functions again with the optimizing compiler cost as much CPU as running
 * them did (300 statements on a new database: 1.2 CPU-s of statements, 1.25 more of
 * compiling); the PGlite pass took 9 % less CPU with the flag (204 against 226 CPU-s, runs in
 * turn). A server that runs for days keeps V8's default: the compiling pays off there.
 */
import type { Config } from 'jest';

const transform: Config['transform'] = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript' },
        target: 'es2023',
        // Keep `with { type: 'json' }`: Node needs it for JSON imports.
        experimental: { keepImportAttributes: true },
      },
      // ES modules out; import paths are left alone (they already name the real `.ts` files).
      module: { type: 'es6', resolveFully: false },
      sourceMaps: 'inline',
    },
  ],
};

const LAYERS = ['unit', 'integration', 'e2e', 'browser', 'reliability'];

const config: Config = {
  globalSetup: '<rootDir>/test/setup/global-setup.mjs',
  globalTeardown: '<rootDir>/test/setup/global-teardown.mjs',
  maxWorkers: 2,
  // Files run in a worker process that is replaced once its heap holds more than this after a
  // file (also with one worker, which would otherwise be Jest's own process). Each file's ES
  // modules and embedded databases stay reachable in a long-lived process, and every garbage
  // collection then walks them again: the PGlite pass took 370 CPU-seconds in one process. Its
  // 58 files now go through about ten workers instead of three; the pass (2 at a time,
  // whole-process CPU, runs in turn): 292 CPU-s at 700 MB, 224 at 350 MB, 205–209 at 200 MB, 237 at 120 MB and 262
  // with a new worker for every file (starting one costs more than the walks it saves).
  workerIdleMemoryLimit: '200MB',
  // argon2, PGlite and Chromium are slow on a small, busy machine; a test that needs more says so.
  testTimeout: 60_000,
  projects: LAYERS.map((layer) => ({
    displayName: layer,
    testEnvironment: 'node',
    testMatch: [`<rootDir>/test/${layer}/**/*.test.ts`],
    // The embedded database folder holds thousands of files no test imports.
    modulePathIgnorePatterns: ['<rootDir>/data/', '<rootDir>/coverage/'],
    extensionsToTreatAsEsm: ['.ts'],
    transform,
  })),
};

export default config;
