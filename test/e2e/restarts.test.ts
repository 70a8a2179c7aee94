/**
 * Issue 9, items 7 and 10 (the server's part): kapu restarted on the same data with another
 * PORT/ISSUER keeps its demo RP working; restarted with keys that do not open the data it says
 * exactly that. Issue 15, item 2: /metrics lives on a listener of its own, bound to the machine
 * itself, and the public listener answers 404 for it unless the operator asks otherwise.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { loadConfig } from '../../src/config/index.ts';
import { seedDemo } from '../../src/demo/seed.ts';
import { createLogger } from '../../src/log.ts';
import { startKapu } from '../../src/server.ts';
import { Browser } from '../helpers/browser.ts';
import { freshDatabase, startTestKapu } from '../helpers/kapu.ts';
import { migratedDataDir } from '../helpers/database.ts';

describe('restarting on the same data', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let dataDir: string;
  const keys = { COOKIE_KEYS: randomBytes(32).toString('base64url'), ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` };
  beforeAll(async () => {
    database = await freshDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'kapu-restart-'));
    if (!database.url) await migratedDataDir(dataDir);
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  });

  /** kapu on this test's data (embedded folder or Postgres database), its issuer on its own port. */
  function start(env: Record<string, string> = {}) {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      METRICS_PORT: '0',
      DATA_DIR: dataDir,
      DEMO: 'true',
      ...keys,
      ...(database.url && { DATABASE_URL: database.url }),
      ...env,
    });
    return startKapu(config, { log: createLogger('silent') }, { issuerFromPort: true, host: '127.0.0.1' });
  }

  test('the demo RP follows a new PORT/ISSUER: its sign-in reaches the method chooser', async () => {
    const first = await start();
    await seedDemo(first.deps, first.provider);
    await first.stop();
    // The first port held, so the system cannot hand it out again: the second start is on
    // another port (and issuer) for certain, not by chance.
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(Number(new URL(first.url).port), '127.0.0.1', resolve));

    const second = await start();
    try {
      expect(second.url).not.toBe(first.url);
      await seedDemo(second.deps, second.provider);
      const page = await new Browser(second.url).go('/demo/login');
      expect(page.status).toBe(200);
      expect(page.url.pathname).toMatch(/^\/interaction\//);
      expect(page.hasForm('/method')).toBe(true);
    } finally {
      await second.stop();
      await new Promise((resolve) => held.close(resolve));
    }
  });

  test('keys that do not open the data stop the start with an error that says so', async () => {
    const other = `k2:${randomBytes(32).toString('base64')}`;
    await expect(start({ ENCRYPTION_KEYS: other })).rejects.toThrow(/^the encryption keys do not open what the database holds \(its signing keys are sealed with key "k1"/);
    // The right keys still start it: nothing was changed by the refused start.
    const again = await start();
    await again.stop();
  });
});

describe('METRICS_PORT and METRICS_HOST', () => {
  test('by default /metrics is on its own listener bound to 127.0.0.1, and the public port answers 404 for it', async () => {
    // The public listener on every interface; the test helper sets only METRICS_PORT=0 (a free
    // port, as 9464 may be taken), so the metrics listener's host is the default.
    const kapu = await startTestKapu({ host: '0.0.0.0' });
    try {
      expect((await fetch(`${kapu.url}/metrics`)).status).toBe(404);
      const listener = kapu.metrics!.address() as AddressInfo;
      expect(listener.address).toBe('127.0.0.1');
      expect(listener.port).not.toBe(Number(new URL(kapu.url).port));
      const scraped = await fetch(`http://127.0.0.1:${listener.port}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/^# HELP kapu_/m);
      // The metrics listener serves nothing else.
      expect((await fetch(`http://127.0.0.1:${listener.port}/healthz`)).status).toBe(404);
    } finally {
      await kapu.close();
    }
  });

  test('METRICS_PORT=public serves /metrics on PORT, as an operator who filters it at the load balancer asks', async () => {
    const kapu = await startTestKapu({ env: { METRICS_PORT: 'public' } });
    try {
      expect(kapu.metrics).toBeNull();
      const scraped = await fetch(`${kapu.url}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/^# HELP kapu_/m);
    } finally {
      await kapu.close();
    }
  });
});
