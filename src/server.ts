/**
 * Starts kapu: HTTP server → deps → provider → app, and stops it in reverse order.
 * Used by main.ts and by the tests (which pass port 0 and their own clock, transport, …).
 *
 * The port is opened first, so that an orchestrator sees the process at once, but nothing
 * waits on it: until the app exists (database opened and migrated, keys loaded) every request
 * is answered 503 with Retry-After, /healthz says the process is alive and /readyz that it is
 * not ready yet. From SIGTERM on /readyz answers 503 at once, and for a grace period
 * (SHUTDOWN_GRACE_SECONDS) kapu still accepts and serves everything else, so a load balancer
 * that sees /readyz fail drains the replica instead of seeing it vanish; then the listener
 * closes and the requests in flight finish.
 */
import { type IncomingMessage, type RequestListener, type ServerResponse, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import { buildApp } from './app.ts';
import { openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createLogger } from './log.ts';
import type { Config } from './config/index.ts';
import { type Deps, type DepsOverrides, buildDeps, closeDeps } from './deps.ts';
import { metricsServer } from './http/metrics-server.ts';
import { checkKeysOpenDatabase } from './oidc/keys-check.ts';
import { buildProvider } from './oidc/provider.ts';

export interface Kapu {
  deps: Deps;
  provider: Provider;
  server: Server;
  /** The /metrics listener (METRICS_PORT on METRICS_HOST); null with METRICS_PORT=public. */
  metrics: Server | null;
  url: string;
  /**
   * Stops: /readyz answers 503 at once; after `graceMs` (default none) the listener closes, the
   * requests in flight finish and the database is closed. Called again, it ends the grace at once.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

export interface StartOptions {
  issuerFromPort?: boolean;
  host?: string;
  /** Called once the port is open, before the app is ready. */
  onListening?: (port: number) => void;
}

/** Seconds a client is asked to wait before retrying while kapu starts. */
const RETRY_AFTER_SECONDS = 5;

type Phase = 'starting' | 'ready' | 'stopping';

function plain(res: ServerResponse, status: number, body: Record<string, string>, retry: boolean): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (retry) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res.end(JSON.stringify(body));
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Answers for the moments the app cannot: before it exists, and /readyz while stopping. */
function lifecycleListener(phase: () => Phase, app: () => RequestListener | null): RequestListener {
  return (req, res) => {
    const path = pathOf(req);
    const current = phase();
    const handle = app();
    // Stopping: each kept-alive connection closes after its answer, so the server can close.
    if (current === 'stopping') res.setHeader('Connection', 'close');
    if (current === 'stopping' && path === '/readyz') return plain(res, 503, { status: 'stopping' }, true);
    if (handle && current !== 'starting') return void handle(req, res);
    req.resume();
    if (path === '/healthz') return plain(res, 200, { status: 'starting' }, false);
    if (path === '/readyz') return plain(res, 503, { status: 'starting' }, true);
    plain(res, 503, { error: 'temporarily_unavailable', error_description: 'kapu is starting' }, true);
  };
}

/**
 * `config.issuer` may be left to follow the bound port (tests listen on port 0): pass
 * `issuerFromPort` and the issuer becomes http://127.0.0.1:<port> (http://localhost:<port> when bound to
 * `localhost`: WebAuthn takes no IP address as an RP ID, so a browser test of passkeys needs a name).
 */
export async function startKapu(config: Config, overrides: DepsOverrides = {}, options: StartOptions = {}): Promise<Kapu> {
  let phase: Phase = 'starting';
  let handler: RequestListener | null = null;
  const server = createServer(lifecycleListener(() => phase, () => handler));
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  // The embedded database runs in WebAssembly on this thread: its first open (initdb) and its
  // migrations block the event loop for seconds, and a port open meanwhile would leave probes
  // hanging. So it is opened and migrated before the port opens (until then a connection is
  // refused at once). With Postgres nothing blocks: the port opens first and answers 503.
  const early =
    overrides.database ?? (config.database.kind === 'pglite' ? await openDatabase(config.database, overrides.log ?? createLogger(config.logLevel)) : undefined);
  try {
    if (early) await migrateToLatest(early.db);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, options.host, () => resolve());
    });
  } catch (err) {
    await early?.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  options.onListening?.(port);
  const finalConfig = options.issuerFromPort ? { ...config, port, issuer: `http://${options.host === 'localhost' ? 'localhost' : '127.0.0.1'}:${port}` } : config;
  let deps: Deps | undefined;
  let metrics: Server | null = null;
  try {
    deps = await buildDeps(finalConfig, { ...overrides, ...(early && { database: early }) });
    await checkKeysOpenDatabase(deps);
    const provider = await buildProvider(deps);
    const app = buildApp(deps, provider);
    if (finalConfig.metricsPort !== null) metrics = await metricsServer(deps, finalConfig.metricsPort, finalConfig.metricsHost);
    handler = app.callback();
    phase = 'ready';
    deps.sender.start();
    deps.maintenance.start(10 * 60 * 1000);
    const ready = deps;
    const metricsListener = metrics;
    let stopped: Promise<void> | null = null;
    let endGrace = () => {};
    return {
      deps: ready,
      provider,
      server,
      metrics: metricsListener,
      url: finalConfig.issuer,
      stop({ graceMs = 0 } = {}) {
        if (stopped) {
          endGrace();
          return stopped;
        }
        phase = 'stopping';
        stopped = (async () => {
          if (graceMs > 0) {
            ready.log.info({ graceSeconds: graceMs / 1000 }, 'draining: /readyz answers 503, still serving until the grace period ends');
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, graceMs);
              endGrace = () => (clearTimeout(timer), resolve());
            });
          }
          ready.log.info('closing the listener: finishing the requests in flight');
          const closing = [server, ...(metricsListener ? [metricsListener] : [])].map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeIdleConnections();
              }),
          );
          await Promise.all(closing);
          await closeDeps(ready);
        })();
        return stopped;
      },
    };
  } catch (err) {
    server.close();
    metrics?.close();
    if (deps) await closeDeps(deps).catch(() => {});
    else await early?.close().catch(() => {});
    throw err;
  }
}
