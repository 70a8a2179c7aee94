/**
 * Starts kapu: deps → provider → app → HTTP server, and stops it in reverse order.
 * Used by main.ts and by the tests (which pass port 0 and their own clock, transport, …).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import { buildApp } from './app.ts';
import type { Config } from './config/index.ts';
import { type Deps, type DepsOverrides, buildDeps, closeDeps } from './deps.ts';
import { buildProvider } from './oidc/provider.ts';

export interface Kapu {
  deps: Deps;
  provider: Provider;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/**
 * `config.issuer` may be left to follow the bound port (tests listen on port 0): pass
 * `issuerFromPort` and the issuer becomes http://127.0.0.1:<port>.
 */
export async function startKapu(config: Config, overrides: DepsOverrides = {}, options: { issuerFromPort?: boolean; host?: string } = {}): Promise<Kapu> {
  const server = createServer();
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const finalConfig = options.issuerFromPort ? { ...config, port, issuer: `http://127.0.0.1:${port}` } : config;
  let deps: Deps | undefined;
  try {
    deps = await buildDeps(finalConfig, overrides);
    const provider = await buildProvider(deps);
    const app = buildApp(deps, provider);
    server.on('request', app.callback());
    deps.sender.start();
    deps.maintenance.start(10 * 60 * 1000);
    const ready = deps;
    return {
      deps: ready,
      provider,
      server,
      url: finalConfig.issuer,
      async stop() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await closeDeps(ready);
      },
    };
  } catch (err) {
    server.close();
    if (deps) await closeDeps(deps).catch(() => {});
    throw err;
  }
}
