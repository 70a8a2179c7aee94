import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { addFactor, createAccount } from '../src/admin/accounts.ts';
import { registerClient } from '../src/admin/clients.ts';
import { reencrypt } from '../src/admin/keys.ts';
import { loadConfig } from '../src/config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../src/deps.ts';
import { createLogger } from '../src/log.ts';
import { buildProvider } from '../src/oidc/provider.ts';
import { freshDatabase } from './helpers/kapu.ts';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('rotating ENCRYPTION_KEYS', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kapu-keys-'));
    database = await freshDatabase();
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  });

  async function open(encryptionKeys: string): Promise<Deps> {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      COOKIE_KEYS: 'c'.repeat(32),
      ENCRYPTION_KEYS: encryptionKeys,
      ...(database.url && { DATABASE_URL: database.url }),
    });
    return buildDeps(config, { log: createLogger('silent') });
  }

  test('secrets sealed under the old key still work after re-encryption, with only the new key configured', async () => {
    const oldKey = key('old');
    const newKey = key('new');

    let deps = await open(oldKey);
    await buildProvider(deps); // generates and seals the signing keys
    await createAccount(deps, { username: 'rotacio', name: 'Rotáció Teszt', email: 'r@example.hu', password: 'correct horse battery' });
    const uri = (await addFactor(deps, 'rotacio', 'totp')).secretForDisplay!;
    const { clientSecret } = await registerClient(deps, await buildProvider(deps), {
      clientId: 'rotating-rp',
      redirectUris: ['https://rp.example.hu/cb'],
      authMethod: 'client_secret_basic',
    });
    await closeDeps(deps);

    deps = await open(`${newKey},${oldKey}`);
    const first = await reencrypt(deps);
    expect(first.resealed).toBeGreaterThanOrEqual(4); // 2 signing keys, 1 TOTP secret, 1 client secret
    expect((await reencrypt(deps)).resealed).toBe(0);
    await closeDeps(deps);

    deps = await open(newKey);
    try {
      const provider = await buildProvider(deps);
      const client = await provider.Client.find('rotating-rp');
      expect(client?.clientSecret).toBe(clientSecret);
      const account = (await deps.repos.accounts.findByUsername('rotacio'))!;
      const secret = new URL(uri).searchParams.get('secret')!;
      const token = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
      const outcome = await deps.factors.get('totp')!.verify({ flowId: 'x', account, lang: 'hu', repos: deps.repos }, { code: token });
      expect(outcome.ok).toBe(true);
    } finally {
      await closeDeps(deps);
    }
  });
});
