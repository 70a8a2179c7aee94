/**
 * Prometheus metrics (served at /metrics by src/http/metrics.ts): sign-ins by method and
 * outcome, codes sent, security events, request latency by route, mail waiting in the outbox,
 * whether the mail server answers. One registry per app instance; it knows no HTTP framework.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DbStats } from './db/instrumented-dialect.ts';
import type { AuditEvent } from './db/repositories/audit.ts';

const KNOWN_ROUTES = [
  '/interaction/:uid',
  '/auth',
  '/auth/:uid',
  '/token',
  '/me',
  '/jwks',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/token/revocation',
  '/token/introspection',
  '/request',
  '/.well-known/openid-configuration',
  '/healthz',
  '/readyz',
  '/metrics',
];

export class Metrics {
  readonly registry = new Registry();
  readonly #signIns = new Counter({
    name: 'kapu_signins_total',
    help: 'Sign-in steps by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #codesSent = new Counter({ name: 'kapu_codes_sent_total', help: 'One-time codes sent by mail (those under a lock or asked for by username count as code.guarded, reset.asked or unlock.asked instead)', registers: [this.registry] });
  readonly #events = new Counter({
    name: 'kapu_security_events_total',
    help: 'Security events written to the audit log, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly #latency = new Histogram({
    name: 'kapu_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(options: { pendingMail?: () => Promise<number>; smtpUp?: () => boolean; db?: DbStats; defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const db = options.db;
    if (db) {
      // Round trips to the database, counted where kapu sends them (src/db/instrumented-dialect.ts).
      const total = (name: string, help: string, read: () => number) =>
        new Counter({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.reset();
            this.inc(read());
          },
        });
      total('kapu_db_statements_total', 'Statements sent to the database, BEGIN and COMMIT included', () => db.statements);
      total('kapu_db_transactions_total', 'Database transactions (a statement on its own counts as one)', () => db.transactions);
    }
    const pendingMail = options.pendingMail;
    if (pendingMail) {
      new Gauge({
        name: 'kapu_mail_outbox_pending',
        help: 'Mail queued and not yet sent',
        registers: [this.registry],
        async collect() {
          this.set(await pendingMail().catch(() => -1));
        },
      });
    }
    const smtpUp = options.smtpUp;
    if (smtpUp) {
      new Gauge({
        name: 'kapu_smtp_up',
        help: 'Whether the mail server answered this replica at its last probe (1) or not (0); mail waits in the outbox meanwhile',
        registers: [this.registry],
        collect() {
          this.set(smtpUp() ? 1 : 0);
        },
      });
    }
  }

  /**
   * Every audited security event also counts here: one source of truth for both. An event whose
   * page hides how it went (a guarded sign-in's password and code, a mail asked for by username)
   * counts once under what it is seen as, and in no sign-in or code total: /metrics tells no
   * right password from a wrong one, and no citizen's name from a made-up one.
   */
  event(event: AuditEvent): void {
    if (event.seenAs) {
      this.#events.inc({ type: event.seenAs });
      return;
    }
    this.#events.inc({ type: event.type });
    const method = String(event.detail?.['method'] ?? event.detail?.['factor'] ?? 'password');
    if (event.type === 'signin.succeeded') this.#signIns.inc({ method, outcome: 'success' });
    if (event.type === 'signin.password_failed') this.#signIns.inc({ method: 'password', outcome: 'failure' });
    if (event.type === 'signin.factor_failed') this.#signIns.inc({ method, outcome: 'failure' });
    if (event.type === 'code.sent') this.#codesSent.inc();
  }

  observeRequest(request: { method: string; path: string; status: number }, seconds: number): void {
    this.#latency.observe({ method: request.method, route: routeOf(request.path), status: String(request.status) }, seconds);
  }
}

/** Low-cardinality route label: ids replaced by placeholders, anything else is "other". */
export function routeOf(path: string): string {
  const route = path
    .replace(/^\/interaction\/[^/]+(\/.*)?$/, '/interaction/:uid')
    .replace(/^\/auth\/[^/]+$/, '/auth/:uid');
  return KNOWN_ROUTES.includes(route) ? route : 'other';
}
