/**
 * The operator's path end to end: an account and a relying party registered with the admin
 * CLI, then a real RP (openid-client) signing that citizen in at the running server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { type Kapu, startKapu } from '../../src/server.ts';
import { Browser } from '../helpers/browser.ts';
import { borrowed, openTestDatabase } from '../helpers/database.ts';
import { testEnv } from '../helpers/env.ts';
import { RP_REDIRECT, beginSignIn, freshDatabase, signInWithPassword } from '../helpers/kapu.ts';

test('a client registered with the CLI signs in a citizen registered with the CLI', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kapu-cli-rp-'));
  const database = await freshDatabase();
  const env: Record<string, string> = testEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `op:${randomBytes(32).toString('base64')}`,
    ...(database.url && { DATABASE_URL: database.url }),
  });
  // One database for the CLI's commands and the server after them, as on one machine.
  const shared = await openTestDatabase(loadConfig(env), createLogger('silent'));
  const cli = async (argv: string[], stdin = '') => {
    let stdout = '';
    const code = await runCli(argv, { stdin, stdout: (s) => (stdout += s), stderr: () => {}, env, database: shared });
    expect(code).toBe(0);
    return stdout;
  };
  let kapu: Kapu | undefined;
  try {
    await cli(['account', 'add', '--username', 'horvath.ildiko', '--name', 'Horváth Ildikó', '--email', 'ildiko@example.hu'], 'Ildikó jelszava 2026\n');
    const added = await cli(['client', 'add', '--id', 'nav-ugyintezes', '--name', 'Ügyintézés', '--redirect-uri', RP_REDIRECT]);
    const secret = /client_secret: (\S+)/.exec(added)?.[1];
    expect(secret).toBeDefined();

    kapu = await startKapu(loadConfig({ ...env, PORT: '0', METRICS_PORT: '0' }), { log: createLogger('silent'), database: borrowed(shared) }, { issuerFromPort: true, host: '127.0.0.1' });
    const rp = await oidc.discovery(new URL(kapu.url), 'nav-ugyintezes', secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    await signInWithPassword(browser, signIn.url, 'legacy', 'horvath.ildiko', 'Ildikó jelszava 2026');
    const tokens = await signIn.finish(browser.exitUrl!);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ preferred_username: 'horvath.ildiko', name: 'Horváth Ildikó' });
  } finally {
    await kapu?.stop();
    await shared.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
