/**
 * Replicas, as a deployment runs them: more kapu instances (src/server.ts startKapu) on the
 * test kapu's Postgres database, with its cookie and encryption keys, behind a small load
 * balancer whose URL is their common issuer. The test chooses which replica answers next, so
 * it can start a sign-in on one and finish it on another.
 *
 * Needs a real Postgres (DATABASE_URL): an in-memory PGlite cannot be shared.
 */
import { Agent, type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Kapu, startKapu } from '../../src/server.ts';
import type { TestKapu } from './kapu.ts';

export interface Replicas {
  /** The load balancer: where browsers and RPs connect, and the replicas' issuer. */
  url: string;
  replicas: Kapu[];
  /** How many requests each replica has answered. */
  served: number[];
  /** Sends the following requests to replica `index`. */
  routeTo(index: number): void;
  close(): Promise<void>;
}

export async function startReplicas(primary: TestKapu, count = 2): Promise<Replicas> {
  if (primary.deps.config.database.kind !== 'postgres') throw new Error('replicas need a shared Postgres: set DATABASE_URL');
  const replicas: Kapu[] = [];
  const served: number[] = [];
  let current = 0;
  // No keep-alive towards the replicas: each request is routed on its own, as chosen.
  const agent = new Agent({ keepAlive: false });

  const balancer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const index = current;
    const replica = replicas[index]!;
    served[index] = (served[index] ?? 0) + 1;
    const { port } = replica.server.address() as AddressInfo;
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
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
    await Promise.all(replicas.map((r) => r.stop()));
    agent.destroy();
  };
  try {
    // Same database, same keys (config carries the primary's actual cookie keys), one issuer.
    const config = { ...primary.deps.config, port: 0, issuer: url };
    for (let i = 0; i < count; i += 1) {
      replicas.push(await startKapu(config, { clock: primary.clock, log: primary.deps.log, mailPollMs: 200 }, { host: '127.0.0.1' }));
      served.push(0);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url,
    replicas,
    served,
    routeTo(index) {
      if (!replicas[index]) throw new Error(`no replica ${index}`);
      current = index;
    },
    close: stopAll,
  };
}
