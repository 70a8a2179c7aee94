/**
 * kapu's settings: every environment variable kapu reads is declared here, once, with its
 * default, its bounds and the reason for them. `loadConfig` fails fast with one line naming the
 * variable and the rule it broke.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const EIDAS_LOW = 'http://eidas.europa.eu/LoA/low';
const EIDAS_SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

/** A key given as base64 (standard or url-safe) that decodes to exactly 32 bytes. */
const key32 = z.string().refine((s) => Buffer.from(s, 'base64').length === 32, {
  message: 'each key must be 32 bytes, base64-encoded (openssl rand -base64 32)',
});

/** A page of the operator's site that citizens open from the footer. */
const webAddress = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** Every variable kapu reads; each one is documented in README.md and config/example.env. */
export const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** TCP port of the HTTP server. */
  PORT: int(0, 65535).default(3000),
  /**
   * /metrics has a listener of its own, so the public one never serves it (its series tell how
   * sign-ins go). `public` puts it on PORT instead, for an operator who keeps it from the
   * internet at the load balancer.
   */
  METRICS_PORT: z.union([z.literal('public'), int(0, 65535)], { error: 'must be a port number (0-65535) or public' }).default(9464),
  /** Where the metrics listener binds: the machine itself unless the operator opens it (a container: 0.0.0.0). */
  METRICS_HOST: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')], { error: 'must be an IP address to bind to, such as 127.0.0.1 or 0.0.0.0' }).optional(),
  /** Public URL of kapu as relying parties see it; defaults to http://localhost:PORT. */
  ISSUER: z.url({ error: 'must be an absolute URL such as https://login.example.hu' }).optional(),
  /** Postgres connection string; unset means the embedded PGlite database in DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Connection pool size per replica; Postgres, not kapu, is the scaling engine. */
  DATABASE_POOL_SIZE: int(1, 100).default(10),
  /** Folder of the embedded database (development only). */
  DATA_DIR: z.string().min(1).default('./data'),
  /** Keys that sign cookies, comma-separated, newest first (old ones still verify). */
  COOKIE_KEYS: z
    .string()
    .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1))
    .optional(),
  /**
   * Keys for data encrypted at rest (TOTP secrets, client secrets, signing keys, queued mail),
   * comma-separated `id:base64key`, newest first. The first encrypts; all decrypt, so a key
   * can be rotated by putting a new one in front and re-encrypting (`npm run cli -- keys reencrypt`).
   */
  ENCRYPTION_KEYS: z
    .string()
    .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,16}:/, 'each entry must look like id:base64key')
            .transform((e) => ({ id: e.slice(0, e.indexOf(':')), key: e.slice(e.indexOf(':') + 1) }))
            .pipe(z.object({ id: z.string(), key: key32 })),
        )
        .min(1),
    )
    .optional(),
  /**
   * The first day on which a password-only account may no longer sign in at LoA low: from 00:00
   * Hungarian time that day (the day before is the last one allowed); unset: no cut-off yet.
   */
  LEGACY_LOGIN_UNTIL: z.iso
    .date({ error: 'must be a date like 2025-01-16' })
    .transform(hungarianMidnight)
    .optional(),
  ACR_PASSWORD_ONLY: z.string().min(1).default(EIDAS_LOW),
  ACR_TWO_FACTOR: z.string().min(1).default(EIDAS_SUBSTANTIAL),
  /** `acr` of a sign-in with the DÁP phone app; unset: ACR_TWO_FACTOR (an operator may map it to LoA high). */
  ACR_APP: z.string().min(1).optional(),
  /** `acr` of a sign-in with a phishing-resistant key (WebAuthn: second factor or passwordless); unset: ACR_TWO_FACTOR (an operator may map it to LoA high). */
  ACR_PASSKEY: z.string().min(1).optional(),
  /** SMTP server, e.g. smtps://user:pass@mail.example.hu; unset outside production: dev mailbox. */
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  MAIL_FROM: z.string().min(3).default('Ügyfélkapu+ <no-reply@localhost>'),
  /**
   * Mail the citizen when the account signs in from a browser kapu has not seen for it (no
   * device cookie of that account): the time, service, browser and network, and what to do if
   * it was not them. On by default, as banks do; an operator may switch it off.
   */
  NEW_BROWSER_MAIL: bool.default(true),
  /** One-time code rules (SPEC §3); the bounds keep them safe. */
  CODE_TTL_SECONDS: int(60, 1800).default(600),
  CODE_MAX_ATTEMPTS: int(1, 10).default(5),
  CODE_RESEND_SECONDS: int(10, 600).default(60),
  CODE_MAX_PER_HOUR: int(1, 30).default(10),
  /**
   * The account portal's sessions: over after this many idle minutes (a shared computer left
   * signed in), and after this many hours in any case.
   */
  PORTAL_IDLE_MINUTES: int(5, 60).default(15),
  PORTAL_SESSION_HOURS: int(1, 24).default(8),
  /**
   * The sign-in session at kapu (single sign-on for RPs): over after this many minutes without
   * use, and this many hours after the sign-in in any case (a shared computer left signed in).
   */
  SESSION_IDLE_MINUTES: int(5, 120).default(30),
  SESSION_HOURS: int(1, 24).default(12),
  /**
   * After `keys rotate`, how long the next signing key is only published before it signs: longer
   * than any RP caches kapu's JWKS (a day is common), so no RP meets a key it has not fetched.
   */
  SIGNING_KEY_DELAY_HOURS: int(1, 720).default(24),
  /**
   * argon2id cost; OWASP's minimum for argon2id is m=19 MiB, t=2, p=1, and lower is refused,
   * except with NODE_ENV=test (tests hash thousands of passwords; see ARGON2_MINIMUM).
   */
  ARGON2_MEMORY_KIB: int(8, 1048576).default(19456),
  ARGON2_TIME_COST: int(1, 10).default(2),
  ARGON2_PARALLELISM: int(1, 8).default(1),
  /**
   * kapu runs behind a TLS-terminating load balancer: trust its X-Forwarded-Proto/-Host/-For.
   * Required in production (the https ISSUER is served through such a proxy).
   */
  TRUST_PROXY: bool.default(false),
  /**
   * How many proxies in front of kapu append to X-Forwarded-For. The client address is the
   * one the outermost of them added: entries further left are the client's own claims.
   */
  PROXY_HOPS: int(1, 5).default(1),
  /**
   * After SIGTERM, how long /readyz fails while kapu still serves, before it closes its port:
   * long enough for the load balancer to see the failed check and stop sending (its interval
   * times its threshold). The orchestrator must wait this plus 25 s before it kills kapu.
   */
  SHUTDOWN_GRACE_SECONDS: int(0, 120).default(5),
  /** Who runs this kapu, named in every page's footer and mail (e.g. the ministry's office). */
  OPERATOR_NAME: z.string().trim().min(2, 'must be at least 2 characters').max(120, 'must be at most 120 characters').default('kapu'),
  /** The operator's help, privacy notice and contact pages, linked from every page's footer (unset: no link). */
  HELP_URL: webAddress.optional(),
  PRIVACY_URL: webAddress.optional(),
  /** A page, or a mailto: address. */
  CONTACT_URL: webAddress.or(z.string().regex(/^mailto:[^\s@]+@[^\s@]+$/, 'must be an http(s):// URL or mailto:address')).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seed the demo citizen and demo RP (refused in production; default: on with the embedded database). */
  DEMO: bool.optional(),
});

export type Config = ReturnType<typeof finish>;

/** 00:00 in Hungary (Europe/Budapest, CET or CEST) on the day `date` (YYYY-MM-DD). */
export function hungarianMidnight(date: string): Date {
  const utcMidnight = new Date(`${date}T00:00:00Z`);
  // Budapest's offset from UTC at that moment, in minutes (60 in winter, 120 in summer).
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Budapest', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(utcMidnight);
  const offsetMinutes = Number(parts.find((p) => p.type === 'hour')?.value) * 60 + Number(parts.find((p) => p.type === 'minute')?.value);
  return new Date(utcMidnight.getTime() - offsetMinutes * 60_000);
}

/** OWASP's minimum argon2id cost (m=19 MiB, t=2): the floor everywhere but NODE_ENV=test. */
export const ARGON2_MINIMUM = { memoryKib: 19456, timeCost: 2 } as const;

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, rule: string) {
    super(`${variable}: ${rule}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

function finish(env: z.infer<typeof schema>) {
  const production = env.NODE_ENV === 'production';
  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return {
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    /** null: /metrics is served on PORT (METRICS_PORT=public). */
    metricsPort: env.METRICS_PORT === 'public' ? null : env.METRICS_PORT,
    metricsHost: env.METRICS_HOST ?? '127.0.0.1',
    issuer,
    database: env.DATABASE_URL
      ? { kind: 'postgres' as const, url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE }
      : { kind: 'pglite' as const, dataDir: env.DATA_DIR },
    dataDir: env.DATA_DIR,
    cookieKeys: env.COOKIE_KEYS ?? [randomBytes(32).toString('base64url')],
    generatedCookieKeys: env.COOKIE_KEYS === undefined,
    encryptionKeys: (env.ENCRYPTION_KEYS ?? [{ id: 'dev', key: randomBytes(32).toString('base64') }]).map(
      (k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }),
    ),
    generatedEncryptionKeys: env.ENCRYPTION_KEYS === undefined,
    legacyLoginUntil: env.LEGACY_LOGIN_UNTIL ?? null,
    acr: { passwordOnly: env.ACR_PASSWORD_ONLY, twoFactor: env.ACR_TWO_FACTOR, app: env.ACR_APP ?? env.ACR_TWO_FACTOR, phishingResistant: env.ACR_PASSKEY ?? env.ACR_TWO_FACTOR },
    mail: { smtpUrl: env.SMTP_URL ?? null, from: env.MAIL_FROM, newBrowser: env.NEW_BROWSER_MAIL },
    codes: {
      ttlSeconds: env.CODE_TTL_SECONDS,
      maxAttempts: env.CODE_MAX_ATTEMPTS,
      resendSeconds: env.CODE_RESEND_SECONDS,
      maxPerHour: env.CODE_MAX_PER_HOUR,
    },
    session: { idleSeconds: env.SESSION_IDLE_MINUTES * 60, lifetimeSeconds: env.SESSION_HOURS * 3600 },
    portal: { idleMinutes: env.PORTAL_IDLE_MINUTES, sessionHours: env.PORTAL_SESSION_HOURS },
    signingKeyDelayHours: env.SIGNING_KEY_DELAY_HOURS,
    argon2: {
      memoryCost: env.ARGON2_MEMORY_KIB,
      timeCost: env.ARGON2_TIME_COST,
      parallelism: env.ARGON2_PARALLELISM,
    },
    site: {
      operator: env.OPERATOR_NAME,
      helpUrl: env.HELP_URL ?? null,
      privacyUrl: env.PRIVACY_URL ?? null,
      contactUrl: env.CONTACT_URL ?? null,
    },
    trustProxy: env.TRUST_PROXY,
    proxyHops: env.PROXY_HOPS,
    shutdownGraceSeconds: env.SHUTDOWN_GRACE_SECONDS,
    logLevel: env.LOG_LEVEL,
    // The demo seeds a known password: by default only on the embedded development database.
    demo: env.DEMO ?? (!production && !env.DATABASE_URL),
  };
}

/** Reads and checks the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset: `FOO=` in an env file should not mean "the empty value".
  const env = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const config = finish(parsed.data);
  if (config.production) refuseUnsafeProduction(config);
  if (config.env !== 'test') refuseWeakArgon2(config);
  if (config.metricsPort !== null && config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new ConfigError('METRICS_PORT', 'must differ from PORT (it keeps /metrics off the public listener)');
  }
  if (config.metricsPort === null && env['METRICS_HOST'] !== undefined) {
    throw new ConfigError('METRICS_HOST', 'has no effect with METRICS_PORT=public (/metrics is then served on PORT)');
  }
  if (config.acr.passwordOnly === config.acr.twoFactor) {
    throw new ConfigError('ACR_TWO_FACTOR', 'must differ from ACR_PASSWORD_ONLY');
  }
  if (config.acr.app === config.acr.passwordOnly) {
    throw new ConfigError('ACR_APP', 'must differ from ACR_PASSWORD_ONLY');
  }
  if (config.acr.phishingResistant === config.acr.passwordOnly) {
    throw new ConfigError('ACR_PASSKEY', 'must differ from ACR_PASSWORD_ONLY');
  }
  return config;
}

function refuseWeakArgon2(config: Config): void {
  if (config.argon2.memoryCost < ARGON2_MINIMUM.memoryKib) {
    throw new ConfigError('ARGON2_MEMORY_KIB', `must be at least ${ARGON2_MINIMUM.memoryKib} (OWASP's minimum for argon2id)`);
  }
  if (config.argon2.timeCost < ARGON2_MINIMUM.timeCost) {
    throw new ConfigError('ARGON2_TIME_COST', `must be at least ${ARGON2_MINIMUM.timeCost} (OWASP's minimum for argon2id)`);
  }
}

function refuseUnsafeProduction(config: Config): void {
  if (config.database.kind !== 'postgres') {
    throw new ConfigError('DATABASE_URL', 'is required in production (the embedded database is for development)');
  }
  if (config.generatedCookieKeys) {
    throw new ConfigError('COOKIE_KEYS', 'is required in production (generated keys change on every start)');
  }
  if (config.generatedEncryptionKeys) {
    throw new ConfigError('ENCRYPTION_KEYS', 'is required in production (generated keys change on every start)');
  }
  if (!config.issuer.startsWith('https://')) {
    throw new ConfigError('ISSUER', 'must be an https:// URL in production');
  }
  if (!config.trustProxy) {
    throw new ConfigError('TRUST_PROXY', 'must be true in production: kapu serves its https ISSUER through a TLS-terminating proxy');
  }
  if (!config.mail.smtpUrl) {
    throw new ConfigError('SMTP_URL', 'is required in production (the development mailbox is for development)');
  }
  if (config.demo) {
    throw new ConfigError('DEMO', 'must not be enabled in production');
  }
}
