/** kapu's entry point: load config → start → serve; SIGTERM drains and shuts down gracefully, SIGINT at once. */
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config/index.ts';
import { seedDemo } from './demo/seed.ts';
import { createLogger } from './log.ts';
import { startKapu } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kapu: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  // Signal handlers come first: until a process listens for SIGTERM, the signal kills it on
  // the spot, and an orchestrator may send it at any moment, even during start-up.
  const starting = startKapu(config, { log }, {
    // The port answers from now on (503 until ready), so probes never hang during start-up.
    onListening: (port) => log.info({ port }, 'kapu accepting connections, starting'),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal: no more waiting for the load balancer.
      void starting.then((kapu) => kapu.stop(), () => {});
      return;
    }
    stopping = true;
    // SIGTERM (an orchestrator's) drains: /readyz fails while kapu still serves for the grace
    // period. SIGINT (Ctrl-C at a terminal) stops at once.
    const graceMs = signal === 'SIGTERM' ? config.shutdownGraceSeconds * 1000 : 0;
    log.info({ signal, graceSeconds: graceMs / 1000 }, 'shutting down');
    // The requests in flight, the mail pass and the pool get 25 s after the grace, then the process goes.
    const force = setTimeout(() => process.exit(1), graceMs + 25_000);
    force.unref();
    starting
      .then((kapu) => kapu.stop({ graceMs }))
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const kapu = await starting;
  if (stopping) return;
  log.info({ issuer: config.issuer, port: (kapu.server.address() as AddressInfo).port, database: config.database.kind }, 'kapu listening');

  if (config.demo) {
    const demo = await seedDemo(kapu.deps, kapu.provider);
    const lines = [
      '',
      `  kapu demo is ready: open ${config.issuer}/demo`,
      `  sign in as "${demo.username}" with password "${demo.password}"`,
      kapu.deps.devMailbox ? `  emailed codes arrive at ${config.issuer}/dev/mailbox` : '',
      demo.appUri ? `  authenticator app (add this once): ${demo.appUri}` : '',
      '',
    ];
    process.stdout.write(lines.filter((l, i) => l !== '' || i === 0 || i === lines.length - 1).join('\n') + '\n');
  }
  if (kapu.deps.devMailbox) log.warn({ mailbox: `${config.issuer}/dev/mailbox` }, 'no SMTP_URL: mail is kept in the development mailbox');
}

main().catch((err: unknown) => {
  process.stderr.write(`kapu: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
