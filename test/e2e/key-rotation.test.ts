import { typedProof } from '../helpers/core.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { addFactor, createAccount } from '../../src/admin/accounts.ts';
import { registerClient } from '../../src/admin/clients.ts';
import { reencrypt } from '../../src/admin/keys.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { PairwiseSubjects } from '../../src/oidc/pairwise.ts';
import { buildProvider } from '../../src/oidc/provider.ts';
import * as oidc from 'openid-client';
import { rotateSigningKeys } from '../../src/oidc/keys.ts';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, freshDatabase, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { type Replicas, startReplicas } from '../helpers/replicas.ts';
import { jest } from '@jest/globals';
import { migratedDataDir } from '../helpers/database.ts';

// Several openings of the database and argon2 hashing: slow when the whole suite runs beside it.
jest.setTimeout(180_000);

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('rotating ENCRYPTION_KEYS', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kapu-keys-'));
    database = await freshDatabase();
    if (!database.url) await migratedDataDir(dataDir);
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
    await buildProvider(deps); // generates and seals the signing keys and the pairwise key
    const pairwiseSub = (await PairwiseSubjects.load(deps)).subject('account-1', 'ado.example.hu');
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
    expect(first.resealed).toBeGreaterThanOrEqual(5); // 2 signing keys, the pairwise key, 1 TOTP secret, 1 client secret
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
      const outcome = await typedProof(deps.factors.get('totp')).verify({ flowId: 'x', account, lang: 'hu', repos: deps.repos }, { code: token });
      expect(outcome.ok).toBe(true);
      // Pairwise RPs see the same sub as before: the key was re-sealed, not replaced.
      expect((await PairwiseSubjects.load(deps)).subject('account-1', 'ado.example.hu')).toBe(pairwiseSub);
    } finally {
      await closeDeps(deps);
    }
  });
});

describe('rotating the signing keys (keys rotate)', () => {
  const HOUR = 60 * 60;
  let kapu: TestKapu;
  let replicas: Replicas | undefined;
  beforeAll(async () => {
    kapu = await startTestKapu();
    if (kapu.deps.config.database.kind === 'postgres') replicas = await startReplicas(kapu, 1);
  });
  afterAll(async () => {
    await replicas?.close();
    await kapu?.close();
  });

  const kidsAt = async (base: string) => {
    const jwks = (await (await fetch(`${base}/jwks`)).json()) as { keys: Array<{ kid: string; alg: string; d?: string }> };
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    return jwks.keys.map((k) => k.kid).sort();
  };
  const signingKid = async (rp: oidc.Configuration, username: string) => {
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    await signInWithPassword(browser, signIn.url, 'legacy', username);
    const tokens = await signIn.finish(browser.exitUrl!);
    return JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid as string;
  };
  test('the next key is published at once, signs only after the delay, and the old one stays published until its tokens expired', async () => {
    const { rp } = await kapu.client();
    await kapu.account('forgo.kulcs');
    const before = await kidsAt(kapu.url);
    expect(before).toHaveLength(2);
    const oldKid = await signingKid(rp, 'forgo.kulcs');
    expect(before).toContain(oldKid);

    const { rotated } = await rotateSigningKeys(kapu.deps.uow, kapu.deps.box, kapu.deps.clock, 24 * HOUR);
    const newRsa = rotated.find((k) => k.alg === 'RS256')!.kid;
    // Published without a restart, on this replica and (with Postgres) on the other one. The news
    // travels through LISTEN/NOTIFY, as from the CLI's own process: a moment later, not in the same tick.
    const published = [...before, ...rotated.map((k) => k.kid)].sort();
    await waitFor(async () => (await kidsAt(kapu.url)).length === 4);
    expect(await kidsAt(kapu.url)).toEqual(published);
    if (replicas) await waitFor(async () => (await kidsAt(replicas!.url)).length === 4);
    if (replicas) expect(await kidsAt(replicas.url)).toEqual(published);
    // Not signing yet: an RP that fetched JWKS before the rotation must still know the signer.
    expect(await signingKid(rp, 'forgo.kulcs')).toBe(oldKid);

    // A second rotation while one is pending is refused.
    expect((await rotateSigningKeys(kapu.deps.uow, kapu.deps.box, kapu.deps.clock, 24 * HOUR)).rotated).toEqual([]);

    kapu.clock.advance(24 * HOUR + 1);
    expect(await signingKid(rp, 'forgo.kulcs')).toBe(newRsa);
    // The old key is still published: ID tokens it signed in the last hour are still valid.
    expect(await kidsAt(kapu.url)).toContain(oldKid);

    kapu.clock.advance(HOUR + 1);
    const after = await kidsAt(kapu.url);
    expect(after).not.toContain(oldKid);
    expect(after).toEqual(rotated.map((k) => k.kid).sort());
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
