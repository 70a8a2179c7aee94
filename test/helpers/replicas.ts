/**
 * Replicas, as a deployment runs them: more kapu instances (src/server.ts startKapu) on the
 * test kapu's Postgres database, with its cookie and encryption keys, behind a small load
 * balancer whose URL is their common issuer. The test chooses which replica answers next, so
 * it can start a sign-in on one and finish it on another.
 *
 * A replica can also run as a process of its own (`node src/main.ts`, as `npm start` runs it),
 * which the test may kill with SIGKILL: nothing of it is left to release what it held.
 *
 * Needs a real Postgres (DATABASE_URL): an in-memory PGlite cannot be shared.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DepsOverrides } from '../../src/deps.ts';
import { type Kapu, startKapu } from '../../src/server.ts';
import { ROOT } from './cli-process.ts';
import { testEnv } from './env.ts';
import type { TestKapu } from './kapu.ts';

/** A replica running as its own process. */
export interface ReplicaProcess {
  child: ChildProcess;
  port: number;
  /** Everything it wrote to stdout (pino JSON lines). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface Replicas {
  /** The load balancer: where browsers and RPs connect, and the replicas' issuer. */
  url: string;
  /** In-process replicas, numbered first. */
  replicas: Kapu[];
  /** Replicas in processes of their own, numbered after the in-process ones. */
  processes: ReplicaProcess[];
  /** How many requests each replica has answered. */
  served: number[];
  /** Sends the following requests to replica `index`. */
  routeTo(index: number): void;
  close(): Promise<void>;
}

/**
 * `count` in-process replicas (they share the primary's clock and log; `overrides` changes more,
 * e.g. the mail sender's poll), then `processes` replicas in processes of their own.
 */
export async function startReplicas(primary: TestKapu, count = 2, options: { processes?: number; overrides?: DepsOverrides } = {}): Promise<Replicas> {
  if (primary.deps.config.database.kind !== 'postgres') throw new Error('replicas need a shared Postgres: set DATABASE_URL');
  const replicas: Kapu[] = [];
  const processes: ReplicaProcess[] = [];
  const served: number[] = [];
  let current = 0;
  const portOf = (index: number): number =>
    index < replicas.length ? (replicas[index]!.server.address() as AddressInfo).port : processes[index - replicas.length]!.port;
  // No keep-alive towards the replicas: each request is routed on its own, as chosen.
  const agent = new Agent({ keepAlive: false });

  const balancer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const index = current;
    served[index] = (served[index] ?? 0) + 1;
    const upstream = request({ host: '127.0.0.1', port: portOf(index), method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;

  const stopAll = async () => {
    await new Promise<void>((resolve) => {
      balancer.close(() => resolve());
      balancer.closeAllConnections();
    });
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all([...replicas.map((r) => r.stop()), ...processes.map((p) => p.exited)]);
    agent.destroy();
  };
  try {
    // Same database, same keys (config carries the primary's actual cookie keys), one issuer.
    const config = { ...primary.deps.config, port: 0, issuer: url };
    for (let i = 0; i < count; i += 1) {
      replicas.push(await startKapu(config, { clock: primary.clock, log: primary.deps.log, mailPollMs: 1_000, ...options.overrides }, { host: '127.0.0.1' }));
      served.push(0);
    }
    for (let i = 0; i < (options.processes ?? 0); i += 1) {
      processes.push(await spawnReplica(primary, url));
      served.push(0);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url,
    replicas,
    processes,
    served,
    routeTo(index) {
      if (index >= replicas.length + processes.length) throw new Error(`no replica ${index}`);
      current = index;
    },
    close: stopAll,
  };
}

/**
 * `node src/main.ts` with the primary's database, keys and mail server, and `issuer`; resolves
 * once it listens. It keeps kapu's own timings (the mail sender's poll included).
 */
async function spawnReplica(primary: TestKapu, issuer: string): Promise<ReplicaProcess> {
  const { config } = primary.deps;
  if (config.database.kind !== 'postgres') throw new Error('a replica process needs Postgres');
  const env: Record<string, string> = testEnv({
    PATH: process.env['PATH'] ?? '',
    NODE_ENV: 'test',
    // Killed or stopped by the test: no drain to wait for.
    SHUTDOWN_GRACE_SECONDS: '0',
    PORT: '0',
    METRICS_PORT: '0',
    ISSUER: issuer,
    DEMO: 'false',
    LOG_LEVEL: 'info',
    DATA_DIR: 'memory://',
    DATABASE_URL: config.database.url,
    DATABASE_POOL_SIZE: '4',
    COOKIE_KEYS: config.cookieKeys.join(','),
    ENCRYPTION_KEYS: config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    ...(config.mail.smtpUrl && { SMTP_URL: config.mail.smtpUrl }),
  });
  // With npm start's node flags, so that replica processes run as production does.
  const child = spawn(process.execPath, ['--experimental-async-context-frame', '--max-semi-space-size=4', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"kapu listening"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', () => reject(new Error(`kapu replica exited before listening: ${out}${err}`)));
  });
  return { child, port, output: () => out, exited };
}
