/**
 * Relying parties are cached in memory by every replica (src/oidc/client-directory.ts). A change
 * made by an operator's CLI — another process, on the shared Postgres — reaches every replica
 * within moments, through LISTEN/NOTIFY: a removed RP is refused, a raised minimum level holds.
 */
import { createHash } from 'node:crypto';
import { removeClient, setClientMinAcr, updateClient } from '../../src/admin/clients.ts';
import { buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { buildProvider } from '../../src/oidc/provider.ts';
import { Browser } from '../helpers/browser.ts';
import { png } from '../helpers/images.ts';
import { type TestKapu, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { type Replicas, startReplicas } from '../helpers/replicas.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const LEGACY_BUTTON = 'Ügyfélkapuval';
const withPostgres = process.env['DATABASE_URL'] ? describe : describe.skip;

/** Waits (a few seconds at most) until `check` holds. */
async function eventually(check: () => Promise<boolean>, seconds = 5): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

withPostgres('the client directory on every replica', () => {
  let kapu: TestKapu;
  let replicas: Replicas;
  beforeAll(async () => {
    kapu = await startTestKapu();
    replicas = await startReplicas(kapu, 2);
  });
  afterAll(async () => {
    await replicas?.close();
    await kapu?.close();
  });

  /** The CLI: kapu's dependencies in a process of their own, on the same database. */
  async function asOperator(fn: (deps: Awaited<ReturnType<typeof buildDeps>>) => Promise<void>): Promise<void> {
    const deps = await buildDeps(kapu.deps.config, { log: createLogger('silent') });
    try {
      await fn(deps);
    } finally {
      await closeDeps(deps);
    }
  }

  /** What replica `index` shows for a sign-in request of this RP. */
  async function chooserOn(index: number, rp: Awaited<ReturnType<TestKapu['client']>>['rp']) {
    replicas.routeTo(index);
    const url = new URL((await beginSignIn(rp)).url.href.replace(kapu.url, replicas.url));
    return new Browser(replicas.url).go(url);
  }

  const legacyOffered = (page: Awaited<ReturnType<Browser['go']>>) => page.doc.querySelectorAll('button').some((b) => b.text.trim() === LEGACY_BUTTON);

  test('a minimum level set with the CLI holds on every replica at once', async () => {
    const { clientId, rp } = await kapu.client();
    for (const index of [0, 1]) expect(legacyOffered(await chooserOn(index, rp))).toBe(true);

    await asOperator(async (deps) => setClientMinAcr(deps, await buildProvider(deps), clientId, SUBSTANTIAL));
    for (const index of [0, 1]) expect(await eventually(async () => !legacyOffered(await chooserOn(index, rp)))).toBe(true);
  });

  test("a logo set, replaced or removed with the CLI is on every replica's pages at once, and served by each", async () => {
    const { clientId, rp } = await kapu.client();
    const logoSrc = async (index: number) => (await chooserOn(index, rp)).doc.querySelector('main .rp img')?.getAttribute('src') ?? null;
    for (const index of [0, 1]) expect(await logoSrc(index)).toBeNull();

    for (const logo of [png(10, 10), png(20, 10)]) {
      await asOperator(async (deps) => void (await updateClient(deps, await buildProvider(deps), clientId, { logo })));
      const version = createHash('sha256').update(logo).digest('hex').slice(0, 16);
      for (const index of [0, 1]) {
        expect(await eventually(async () => (await logoSrc(index))?.endsWith(`?v=${version}`) === true)).toBe(true);
        const served = await fetch(new URL((await logoSrc(index))!, replicas.url));
        expect(Buffer.from(await served.arrayBuffer()).equals(logo)).toBe(true);
      }
    }

    await asOperator(async (deps) => void (await updateClient(deps, await buildProvider(deps), clientId, { logo: null })));
    for (const index of [0, 1]) expect(await eventually(async () => (await logoSrc(index)) === null)).toBe(true);
  });

  test('an RP removed with the CLI is refused by every replica at once', async () => {
    const { clientId, rp } = await kapu.client();
    for (const index of [0, 1]) expect((await chooserOn(index, rp)).status).toBe(200);

    await asOperator((deps) => removeClient(deps, clientId));
    for (const index of [0, 1]) expect(await eventually(async () => (await chooserOn(index, rp)).status === 400)).toBe(true);
  });
});
