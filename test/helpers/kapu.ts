/**
 * Starts a real kapu for a test file: on PGlite in memory by default, or, when DATABASE_URL is
 * set, on a fresh database created on that Postgres server (dropped afterwards), so test files
 * running side by side never share state; either way a copy of the database migrated once per
 * run (test/helpers/database.ts). Listens on port 0.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { addFactor, createAccount } from '../../src/admin/accounts.ts';
import { type NewClientInput, registerClient } from '../../src/admin/clients.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { DepsOverrides } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { type Kapu, startKapu } from '../../src/server.ts';
import { Browser, type Page } from './browser.ts';
import { TestClock } from './clock.ts';
import { embeddedDatabase, freshDatabase } from './database.ts';
import { testEnv } from './env.ts';

export { freshDatabase } from './database.ts';

export const RP_REDIRECT = 'https://rp.example.hu/callback';
export const PASSWORD = 'correct horse battery';

export interface TestKapu extends Kapu {
  clock: TestClock;
  /** What Prometheus scrapes: /metrics from the metrics listener (or PORT with METRICS_PORT=public). */
  scrape(): Promise<string>;
  /** Registers a client; returns an openid-client Configuration for it. */
  client(input?: Partial<NewClientInput>): Promise<{ clientId: string; clientSecret: string; rp: oidc.Configuration }>;
  /** Creates an account with the given factors ('email', 'totp'); returns its TOTP secret if any. */
  account(username: string, factors?: string[]): Promise<{ id: string; username: string; email: string; totpSecret: string | null }>;
  close(): Promise<void>;
}

export interface TestKapuOptions {
  env?: Record<string, string>;
  /** Where the public listener binds (default 127.0.0.1). */
  host?: string;
  overrides?: DepsOverrides;
  /** The address kapu reaches its fresh Postgres database at (e.g. through a test's proxy). */
  reach?: (databaseUrl: string) => string;
}

export async function startTestKapu(options: TestKapuOptions = {}): Promise<TestKapu> {
  const database = await freshDatabase();
  const config = loadConfig(testEnv({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    // Keys of this test run only; nothing is written to a data folder.
    DATA_DIR: 'memory://',
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    // The metrics listener on a port of its own too: test servers side by side never collide.
    METRICS_PORT: '0',
    ...(database.url && { DATABASE_URL: options.reach ? options.reach(database.url) : database.url, DATABASE_POOL_SIZE: '4' }),
    // Every test's browser is new to its accounts: the suites that count or read mails in turn
    // would meet a new-browser mail after each sign-in. Tests of that mail switch it on.
    NEW_BROWSER_MAIL: 'false',
    ...options.env,
  }));
  const clock = new TestClock();
  const log = createLogger(config.logLevel);
  const embedded = await embeddedDatabase(config, log);
  // The mail sender is woken by every new mail (LISTEN/NOTIFY) and by its own next due time; the
  // poll only catches what a moved test clock made due. Once a second: each poll is two
  // statements, and at 200 ms an idle kapu on the embedded database spent 4 % of a core on them.
  const kapu = await startKapu(
    config,
    { clock, log, mailPollMs: 1_000, ...(embedded && { database: embedded }), ...options.overrides },
    { issuerFromPort: true, host: options.host ?? '127.0.0.1' },
  );
  const insecure = { execute: [oidc.allowInsecureRequests] };
  let clients = 0;
  return {
    ...kapu,
    clock,
    async scrape() {
      const base = kapu.metrics ? `http://127.0.0.1:${(kapu.metrics.address() as AddressInfo).port}` : kapu.url;
      const res = await fetch(`${base}/metrics`);
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      return res.text();
    },
    async client(input = {}) {
      clients += 1;
      const clientId = input.clientId ?? `rp-${clients}`;
      const { clientSecret } = await registerClient(kapu.deps, kapu.provider, {
        clientId,
        redirectUris: [RP_REDIRECT],
        postLogoutRedirectUris: ['https://rp.example.hu/bye'],
        authMethod: 'client_secret_basic',
        ...input,
      });
      const rp = await oidc.discovery(new URL(kapu.url), clientId, clientSecret ?? undefined, undefined, insecure);
      return { clientId, clientSecret: clientSecret ?? '', rp };
    },
    async account(username, factors = []) {
      const account = await createAccount(kapu.deps, { username, name: `Teszt ${username}`, email: `${username}@example.hu`, password: PASSWORD });
      let totpSecret: string | null = null;
      for (const factor of factors) {
        const result = await addFactor(kapu.deps, username, factor);
        if (result.secretForDisplay) totpSecret = new URL(result.secretForDisplay).searchParams.get('secret');
      }
      return { id: account.id, username: account.username, email: account.email, totpSecret };
    },
    async close() {
      await kapu.stop();
      await database.drop();
    },
  };
}

/** An RP's sign-in: the authorization URL it sends the browser to, and how to finish. */
export async function beginSignIn(rp: oidc.Configuration, params: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: RP_REDIRECT,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return {
    url,
    /** Exchanges the code at the callback URL the browser reached; verifies the ID token. */
    finish: (callback: URL) => oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }),
  };
}

/** Drives the browser through the method chooser and password step. */
export async function signInWithPassword(browser: Browser, start: URL, method: string, username: string, password = PASSWORD): Promise<Page> {
  const chooser = await browser.go(start);
  const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: method });
  return browser.submit(passwordPage, '/password', { username, password });
}
