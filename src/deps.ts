/**
 * Builds everything kapu's app needs from its config: the database (migrated) and its unit of
 * work, the factors, the sign-in core, mail. Clock, randomness, logger and mail transport can
 * be replaced (tests do).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { AccountService } from './auth/account.ts';
import { ENROLLMENT_TTL_SECONDS, EnrollmentService } from './auth/enrollment.ts';
import { AcrPolicy } from './auth/levels.ts';
import { PortalSessions } from './auth/portal-sessions.ts';
import { RecoveryService } from './auth/recovery.ts';
import { RecoveryRequests } from './auth/recovery-requests.ts';
import { SignInService } from './auth/sign-in.ts';
import { UnlockService } from './auth/unlock.ts';
import { type Clock, type Random, cryptoRandom, systemClock } from './clock.ts';
import type { Config } from './config/index.ts';
import { type Db, type OpenDatabase, openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { type Repos, repositories } from './db/repositories/index.ts';
import { UnitOfWork } from './db/unit-of-work.ts';
import type { FactorModule } from './factors/module.ts';
import { FACTORS, createFactors } from './factors/index.ts';
import { Metrics } from './metrics.ts';
import { type Logger, createLogger } from './log.ts';
import { DevMailbox } from './mail/dev-mailbox.ts';
import { Mailer } from './mail/mailer.ts';
import { mailDelivery } from './mail/delivery.ts';
import { Maintenance } from './maintenance.ts';
import { ClientDirectory } from './oidc/client-directory.ts';
import { ClientLogos } from './oidc/client-logos.ts';
import { PasswordHasher } from './security/passwords.ts';
import { EmailedCodes } from './security/emailed-codes.ts';
import { SecretBox } from './security/secret-box.ts';
import { Throttle } from './security/throttle.ts';
import { Views } from './views.ts';

export interface DepsOverrides {
  clock?: Clock;
  random?: Random;
  log?: Logger;
  mailTransport?: Transporter;
  /** Poll interval of the mail sender; it is also woken whenever mail is queued. */
  mailPollMs?: number;
  /** A database already opened (with this config's settings); closed with the deps. */
  database?: OpenDatabase;
  /** The factors kapu offers (src/factors/index.ts), in the method chooser's order. */
  factors?: readonly FactorModule[];
}

export type Deps = Awaited<ReturnType<typeof buildDeps>>;

export async function buildDeps(config: Config, overrides: DepsOverrides = {}) {
  const log = overrides.log ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? cryptoRandom;
  const keys = developmentKeys(config, log);
  const box = new SecretBox(keys.encryptionKeys);
  const database = overrides.database ?? (await openDatabase(config.database, log));
  const { db } = database;
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }

  const metrics = new Metrics({ pendingMail: () => uow.repos.outbox.pendingCount(), smtpUp: () => smtp.up, db: database.stats, defaultMetrics: true });
  const uow: UnitOfWork<Repos> = new UnitOfWork(db, (handle, effects) =>
    repositories(handle, effects, { onAudit: (event) => metrics.event(event), onMailQueued: () => sender.kick() }),
  );

  const devMailbox = !config.mail.smtpUrl && !overrides.mailTransport ? new DevMailbox() : null;
  const transport: Transporter =
    overrides.mailTransport ?? (config.mail.smtpUrl ? smtpTransport(config.mail.smtpUrl) : devMailbox!.transport());
  const { sender, smtp } = mailDelivery({ outbox: uow.repos.outbox, changes: database.changes, transport, box, clock, log }, { from: config.mail.from, pollMs: overrides.mailPollMs ?? 5_000 });
  const factorModules = overrides.factors ?? FACTORS;
  const views = new Views(config.site, factorModules);
  const mailer = new Mailer(box, views, config.issuer);
  const passwords = new PasswordHasher(config.argon2);
  const throttle = new Throttle(clock);
  const acr = new AcrPolicy(config.acr, config.legacyLoginUntil);
  const clients = new ClientDirectory(uow.repos.clients, box, database.changes);
  const clientLogos = new ClientLogos(uow);
  const codes = new EmailedCodes({ mailer, box, clock, random, rules: config.codes });
  const origin = new URL(config.issuer).origin;
  const factors = createFactors(factorModules, { uow, box, mailer, passwords, codes, clock, random, origin });
  const factorDeps = { uow, box, mailer, passwords, codes, clock, random, origin };
  // A setup waits as long as its emailed code lives, if that is longer: the code mail's word holds.
  const enrollments = new EnrollmentService({ uow, factors, throttle, box, clock, random, ttlSeconds: Math.max(ENROLLMENT_TTL_SECONDS, config.codes.ttlSeconds) });
  const portalSessions = new PortalSessions({ uow, clock, times: { idleSeconds: config.portal.idleMinutes * 60, lifetimeSeconds: config.portal.sessionHours * 3600 } });
  const signIns = new SignInService({ uow, factors, passwords, throttle, acr, clients, enrollments, portalSessions, clock, random, mailer, newBrowserMail: config.mail.newBrowser });
  const account = new AccountService({ uow, factors, enrollments, passwords, throttle, codes, mailer, clients, clock, random });
  const requests = new RecoveryRequests({ uow, throttle, mailer, box, clock, random, ttlSeconds: config.codes.ttlSeconds, perNamePerHour: config.codes.maxPerHour });
  const recovery = new RecoveryService({ uow, enrollments, factors, passwords, throttle, requests, mailer, clock, random, maxAttempts: config.codes.maxAttempts });
  const unlock = new UnlockService({ uow, requests, mailer, box, clock, random, origin });
  const maintenance = new Maintenance({ repos: uow.repos, factors, clock, log, portalIdleSeconds: config.portal.idleMinutes * 60 });

  return {
    config: { ...config, cookieKeys: keys.cookieKeys },
    log,
    clock,
    random,
    db,
    dbStats: database.stats,
    database,
    uow,
    /** Repositories whose statements each stand alone (see UnitOfWork.repos). */
    repos: uow.repos,
    box,
    passwords,
    throttle,
    acr,
    clients,
    clientLogos,
    views,
    mailer,
    factors,
    /** The factors' own modules (their routes), as registered. */
    factorModules,
    factorDeps,
    signIns,
    enrollments,
    portalSessions,
    account,
    recovery,
    unlock,
    codes,
    sender,
    smtp,
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
  await deps.database.close();
}

/**
 * A pooled SMTP transport: connections are reused across mails instead of one per mail, and
 * kept (nodemailer would otherwise reopen each after 100 mails: every hundredth code mail then
 * waited for a new SMTP handshake; an SMTP_URL may still set its own maxMessages).
 * Its timeouts bound a probe of the server (SmtpStatus) and each step of a send; the sender
 * renews its claim on a mail while the send lasts.
 */
function smtpTransport(url: string): Transporter {
  const pooled = new URL(url);
  const defaults = { pool: 'true', maxMessages: '100000', connectionTimeout: '10000', greetingTimeout: '10000', socketTimeout: '20000' };
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
