/**
 * Jest runs kapu's TypeScript as native ES modules (`--experimental-vm-modules`), the same way
 * Node 22 runs it in production: swc only strips types, and the explicit `.ts` import
 * extensions stay as they are, so Jest resolves the real files.
 */
import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The embedded database folder holds thousands of files no test imports.
  modulePathIgnorePatterns: ['<rootDir>/data/', '<rootDir>/coverage/'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
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
  },
  // argon2 hashing and PGlite start-up are slow, especially on a small CI machine.
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
