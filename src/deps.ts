/**
 * Builds everything kapu's app needs from its config: database (migrated), repositories,
 * factors, mail. Clock, randomness, logger and mail transport can be replaced (tests do).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { type Clock, type Random, cryptoRandom, systemClock } from './clock.ts';
import type { Config } from './config/index.ts';
import { type Db, createDb } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { AccountsRepository } from './db/repositories/accounts.ts';
import { AuditRepository } from './db/repositories/audit.ts';
import { ClientsRepository } from './db/repositories/clients.ts';
import { FactorsRepository } from './db/repositories/factors.ts';
import { LoginFlowsRepository } from './db/repositories/login-flows.ts';
import { MailOutboxRepository } from './db/repositories/mail-outbox.ts';
import { OidcPayloadsRepository } from './db/repositories/oidc-payloads.ts';
import { OneTimeCodesRepository } from './db/repositories/one-time-codes.ts';
import { SealedValuesRepository } from './db/repositories/sealed-values.ts';
import { SigningKeysRepository } from './db/repositories/signing-keys.ts';
import { ThrottleRepository } from './db/repositories/throttle.ts';
import { Throttle } from './security/throttle.ts';
import { EmailCodeFactor } from './factors/email-code/index.ts';
import { FactorRegistry } from './factors/factor.ts';
import { TotpFactor } from './factors/totp/index.ts';
import { type Logger, createLogger } from './log.ts';
import { DevMailbox } from './mail/dev-mailbox.ts';
import { MailOutbox } from './mail/outbox.ts';
import { OutboxSender } from './mail/sender.ts';
import { PasswordHasher } from './security/passwords.ts';
import { SecretBox } from './security/secret-box.ts';
import { Maintenance } from './maintenance.ts';
import { Metrics } from './http/metrics.ts';
import { Views } from './views.ts';

export interface DepsOverrides {
  clock?: Clock;
  random?: Random;
  log?: Logger;
  mailTransport?: Transporter;
  /** Poll interval of the mail sender; it is also woken whenever mail is queued. */
  mailPollMs?: number;
}

export type Deps = Awaited<ReturnType<typeof buildDeps>>;

export async function buildDeps(config: Config, overrides: DepsOverrides = {}) {
  const log = overrides.log ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? cryptoRandom;
  const keys = developmentKeys(config, log);
  const box = new SecretBox(keys.encryptionKeys);
  const db = await createDb(config.database);
  const applied = await migrateToLatest(db);
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

  const metrics = new Metrics({ pendingMail: () => repos.outbox.pendingCount(), defaultMetrics: true });
  const repos = {
    accounts: new AccountsRepository(db),
    clients: new ClientsRepository(db),
    signingKeys: new SigningKeysRepository(db),
    payloads: new OidcPayloadsRepository(db),
    flows: new LoginFlowsRepository(db),
    audit: new AuditRepository(db, (event) => metrics.event(event)),
    factors: new FactorsRepository(db),
    codes: new OneTimeCodesRepository(db),
    outbox: new MailOutboxRepository(db),
    throttle: new ThrottleRepository(db),
    sealed: new SealedValuesRepository(db),
  };

  const devMailbox = !config.mail.smtpUrl && !overrides.mailTransport ? new DevMailbox() : null;
  const transport: Transporter =
    overrides.mailTransport ?? (config.mail.smtpUrl ? smtpTransport(config.mail.smtpUrl) : devMailbox!.transport());
  const sender = new OutboxSender(
    { repo: repos.outbox, transport, box, clock, log: log.child({ component: 'mail' }) },
    { from: config.mail.from, pollMs: overrides.mailPollMs ?? 5_000, leaseSeconds: 60 },
  );
  const outbox = new MailOutbox(box, () => sender.kick());
  const views = new Views();
  const passwords = new PasswordHasher(config.argon2);
  const throttle = new Throttle(repos.throttle, clock);

  const factors = new FactorRegistry([
    new TotpFactor({ factors: repos.factors, box, clock, random, issuerLabel: 'Ügyfélkapu+' }),
    new EmailCodeFactor({
      codes: repos.codes,
      factors: repos.factors,
      audit: repos.audit,
      outbox,
      box,
      views,
      clock,
      random,
      rules: config.codes,
    }),
  ]);

  const maintenance = new Maintenance({ payloads: repos.payloads, flows: repos.flows, codes: repos.codes, throttle: repos.throttle, clock, log });

  return {
    config: { ...config, cookieKeys: keys.cookieKeys },
    log,
    clock,
    random,
    db,
    box,
    passwords,
    throttle,
    views,
    repos,
    factors,
    outbox,
    sender,
    transport,
    devMailbox,
    maintenance,
    metrics,
  };
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.sender.stop();
  await deps.maintenance.stop();
  deps.transport.close();
  await deps.db.destroy();
}

/**
 * A pooled SMTP transport: connections are reused across mails instead of one per mail.
 * Its timeouts stay well inside the outbox lease (60 s), so a slow server cannot keep a mail
 * past its lease and let another replica send it too.
 */
function smtpTransport(url: string): Transporter {
  const pooled = new URL(url);
  const defaults = { pool: 'true', connectionTimeout: '10000', greetingTimeout: '10000', socketTimeout: '20000' };
  for (const [name, value] of Object.entries(defaults)) if (!pooled.searchParams.has(name)) pooled.searchParams.set(name, value);
  return nodemailer.createTransport(pooled.href);
}

/** Is the database reachable? (readiness) */
export async function pingDb(db: Db): Promise<void> {
  await db.selectFrom('account').select('id').limit(1).execute();
}

/**
 * Outside production, generated keys are kept in DATA_DIR so a development database (embedded
 * or Postgres) stays readable across restarts: its sealed secrets need the same key.
 * Production refuses to start without configured keys (see config); an in-memory database
 * lives no longer than the process, so its keys need not be kept either.
 */
function developmentKeys(config: Config, log: Logger) {
  if (!config.generatedCookieKeys && !config.generatedEncryptionKeys) return config;
  if (config.dataDir === 'memory://') return config;
  const file = join(config.dataDir, 'dev-keys.json');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    const saved = {
      cookieKeys: config.cookieKeys,
      encryptionKeys: config.encryptionKeys.map((k) => ({ id: k.id, key: k.key.toString('base64') })),
    };
    writeFileSync(file, JSON.stringify(saved), { mode: 0o600 });
    log.warn({ file }, 'generated development keys; set COOKIE_KEYS and ENCRYPTION_KEYS outside development');
  }
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { cookieKeys: string[]; encryptionKeys: Array<{ id: string; key: string }> };
  return {
    cookieKeys: config.generatedCookieKeys ? saved.cookieKeys : config.cookieKeys,
    encryptionKeys: config.generatedEncryptionKeys
      ? saved.encryptionKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }))
      : config.encryptionKeys,
  };
}
