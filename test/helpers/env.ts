/**
 * What kapu runs with in tests. argon2id at OWASP's cost takes ~20 ms of CPU per hash, and the
 * suite hashes and checks thousands of passwords: with NODE_ENV=test (and only then, see
 * src/config) a cheap cost is allowed, and tests use it. One test (test/e2e/password-cost)
 * still signs in with the real cost end to end.
 */
export const CHEAP_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' } as const;

/** `env` with the test's argon2 cost, unless it is not a test environment or sets its own. */
export function testEnv<T extends Record<string, string>>(env: T): T {
  if (env['NODE_ENV'] !== 'test') return env;
  return { ...CHEAP_ARGON2, ...env };
}
