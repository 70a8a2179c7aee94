import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, schema } from '../../src/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A complete, safe production environment; each test spoils one thing in it. */
const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'https://login.example.hu',
  DATABASE_URL: 'postgres://kapu@db.example.hu/kapu',
  COOKIE_KEYS: 'k'.repeat(32),
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  SMTP_URL: 'smtps://mail.example.hu',
  TRUST_PROXY: 'true',
};

/** The ConfigError loadConfig throws for this environment (fails the test if it throws none). */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration from the environment', () => {
  test('with nothing set, kapu runs in development on port 3000 with the embedded database and the SPEC defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      production: false,
      port: 3000,
      issuer: 'http://localhost:3000',
      database: { kind: 'pglite', dataDir: './data' },
      generatedCookieKeys: true,
      generatedEncryptionKeys: true,
      legacyLoginUntil: null,
      acr: { passwordOnly: 'http://eidas.europa.eu/LoA/low', twoFactor: 'http://eidas.europa.eu/LoA/substantial' },
      mail: { smtpUrl: null, newBrowser: true },
      codes: { ttlSeconds: 600, maxAttempts: 5, resendSeconds: 60 },
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
      trustProxy: false,
      proxyHops: 1,
      demo: true,
    });
  });

  test('the footer settings: operator name and help, privacy and contact addresses (contact may be mailto:)', () => {
    expect(loadConfig({}).site).toEqual({ operator: 'kapu', helpUrl: null, privacyUrl: null, contactUrl: null });
    const config = loadConfig({ OPERATOR_NAME: 'Minta Hivatal', HELP_URL: 'https://help.example.hu/', PRIVACY_URL: 'https://example.hu/adatvedelem', CONTACT_URL: 'mailto:ugyfel@example.hu' });
    expect(config.site).toEqual({ operator: 'Minta Hivatal', helpUrl: 'https://help.example.hu/', privacyUrl: 'https://example.hu/adatvedelem', contactUrl: 'mailto:ugyfel@example.hu' });
  });

  test('SHUTDOWN_GRACE_SECONDS: 5 by default, 0 to 120, named when out of bounds', () => {
    expect(loadConfig({}).shutdownGraceSeconds).toBe(5);
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '0' }).shutdownGraceSeconds).toBe(0);
    expect(refusal({ SHUTDOWN_GRACE_SECONDS: '121' }).message).toBe('SHUTDOWN_GRACE_SECONDS: must be at most 120');
    expect(refusal({ SHUTDOWN_GRACE_SECONDS: '2.5' }).message).toBe('SHUTDOWN_GRACE_SECONDS: must be a whole number');
  });

  test('LEGACY_LOGIN_UNTIL is the first refused day, from 00:00 Hungarian time (winter and summer)', () => {
    expect(loadConfig({ LEGACY_LOGIN_UNTIL: '2025-01-16' }).legacyLoginUntil?.toISOString()).toBe('2025-01-15T23:00:00.000Z');
    expect(loadConfig({ LEGACY_LOGIN_UNTIL: '2025-07-16' }).legacyLoginUntil?.toISOString()).toBe('2025-07-15T22:00:00.000Z');
  });

  test('a trailing slash on ISSUER is dropped, and an empty variable counts as unset', () => {
    const config = loadConfig({ ISSUER: 'https://login.example.hu/', PORT: '' });
    expect(config.issuer).toBe('https://login.example.hu');
    expect(config.port).toBe(3000);
  });

  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['ISSUER', 'not-a-url'],
    ['DATABASE_URL', 'mysql://x'],
    ['ENCRYPTION_KEYS', 'no-colon-here'],
    ['ENCRYPTION_KEYS', `short:${Buffer.alloc(16).toString('base64')}`],
    ['COOKIE_KEYS', 'too-short'],
    ['LEGACY_LOGIN_UNTIL', 'tomorrow'],
    ['CODE_MAX_ATTEMPTS', '0'],
    ['CODE_TTL_SECONDS', '86400'],
    ['ARGON2_MEMORY_KIB', '1024'],
    ['ARGON2_TIME_COST', '1'],
    ['TRUST_PROXY', 'maybe'],
    ['NEW_BROWSER_MAIL', 'sometimes'],
    ['LOG_LEVEL', 'loud'],
    ['HELP_URL', 'javascript:alert(1)'],
    ['PRIVACY_URL', 'not-a-url'],
    ['CONTACT_URL', 'ftp://example.hu/contact'],
    ['OPERATOR_NAME', ' '],
  ])('%s=%s is refused, and the error names the variable', (variable, value) => {
    const error = refusal({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });

  test('a cheap argon2 cost is for tests only: NODE_ENV=test takes it, development and production refuse it', () => {
    const cheap = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };
    expect(loadConfig({ NODE_ENV: 'test', ...cheap }).argon2).toEqual({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    expect(refusal({ NODE_ENV: 'development', ...cheap }).variable).toBe('ARGON2_MEMORY_KIB');
    expect(refusal({ ...PRODUCTION, ...cheap }).variable).toBe('ARGON2_MEMORY_KIB');
    expect(refusal({ ...PRODUCTION, ARGON2_TIME_COST: '1' }).message).toBe("ARGON2_TIME_COST: must be at least 2 (OWASP's minimum for argon2id)");
  });

  test('/metrics listens on port 9464 of 127.0.0.1 unless METRICS_PORT and METRICS_HOST say otherwise', () => {
    expect(loadConfig({})).toMatchObject({ metricsPort: 9464, metricsHost: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' })).toMatchObject({ metricsPort: 9100, metricsHost: '0.0.0.0' });
    // public: on PORT, no listener of its own.
    expect(loadConfig({ METRICS_PORT: 'public' }).metricsPort).toBeNull();
    expect(refusal({ PORT: '3000', METRICS_PORT: '3000' }).message).toMatch(/^METRICS_PORT: must differ from PORT/);
    expect(refusal({ METRICS_PORT: 'yes' }).message).toBe('METRICS_PORT: must be a port number (0-65535) or public');
    expect(refusal({ METRICS_PORT: '70000' }).variable).toBe('METRICS_PORT');
    expect(refusal({ METRICS_HOST: 'metrics.example.hu' }).message).toMatch(/^METRICS_HOST: must be an IP address/);
    expect(refusal({ METRICS_PORT: 'public', METRICS_HOST: '0.0.0.0' }).message).toMatch(/^METRICS_HOST: has no effect with METRICS_PORT=public/);
  });

  test('the two acr values must differ', () => {
    expect(refusal({ ACR_TWO_FACTOR: 'http://eidas.europa.eu/LoA/low' }).variable).toBe('ACR_TWO_FACTOR');
  });

  describe('production refuses the development defaults', () => {
    test('a complete production environment is accepted, with the demo off', () => {
      const config = loadConfig(PRODUCTION);
      expect(config).toMatchObject({ production: true, demo: false, database: { kind: 'postgres' } });
      expect(config.generatedCookieKeys || config.generatedEncryptionKeys).toBe(false);
    });

    test.each([
      ['the embedded database', 'DATABASE_URL', { DATABASE_URL: '' }],
      ['generated cookie keys', 'COOKIE_KEYS', { COOKIE_KEYS: '' }],
      ['generated encryption keys', 'ENCRYPTION_KEYS', { ENCRYPTION_KEYS: '' }],
      ['a default http issuer', 'ISSUER', { ISSUER: '' }],
      ['an http issuer', 'ISSUER', { ISSUER: 'http://login.example.hu' }],
      ['the development mailbox', 'SMTP_URL', { SMTP_URL: '' }],
      ['the demo', 'DEMO', { DEMO: 'true' }],
      ['no trusted TLS proxy', 'TRUST_PROXY', { TRUST_PROXY: 'false' }],
    ])('%s (%s)', (_what, variable, change) => {
      expect(refusal({ ...PRODUCTION, ...change }).variable).toBe(variable);
    });
  });

  test('every variable kapu reads is in the README table and in config/example.env', () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    const example = readFileSync(`${ROOT}/config/example.env`, 'utf8');
    const missing = Object.keys(schema.shape).filter((name) => !readme.includes(`\`${name}\``) || !new RegExp(`^# ${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });
});
