/**
 * A service's name, logo and home page on kapu's sign-in pages, as an operator sets them up:
 * `client add|update --logo-file` run through the CLI (in-process, on the database the server
 * then runs on), then the pages a citizen's browser
 * gets from the running server, and the logo as kapu itself serves it. kapu never loads a logo
 * from elsewhere: only an image the operator gave, PNG, JPEG or WebP, at most 64 KiB.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { OpenDatabase } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import { type Kapu, startKapu } from '../../src/server.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { type Run, json } from '../helpers/cli-process.ts';
import { borrowed, openTestDatabase } from '../helpers/database.ts';
import { testEnv } from '../helpers/env.ts';
import { JPEG, SVG, WEBP, png } from '../helpers/images.ts';
import { RP_REDIRECT, beginSignIn, freshDatabase } from '../helpers/kapu.ts';

const NAME = 'Adó & Vám <Hivatal>';
const HOME = 'https://ado.example.hu/';
const LOGO = png(120, 40);

let dir: string;
let env: Record<string, string>;
let shared: OpenDatabase;
let drop: () => Promise<void>;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kapu-rp-branding-'));
  const database = await freshDatabase();
  drop = database.drop;
  env = testEnv({
    NODE_ENV: 'test',
    DATA_DIR: join(dir, 'data'),
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `op:${randomBytes(32).toString('base64')}`,
    ...(database.url && { DATABASE_URL: database.url, DATABASE_POOL_SIZE: '2' }),
  });
  shared = await openTestDatabase(loadConfig(env), createLogger('silent'));
  for (const [file, bytes] of Object.entries({ 'logo.png': LOGO, 'logo.jpg': JPEG, 'logo.webp': WEBP, 'logo.svg': SVG, 'svg-named.png': SVG, 'big.png': Buffer.concat([png(8, 8), randomBytes(64 * 1024)]), 'notes.png': Buffer.from('not an image at all\n') })) {
    writeFileSync(join(dir, file), bytes);
  }
});
afterAll(async () => {
  await shared.close();
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => join(dir, name);
async function cli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdin: '', stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env, database: shared });
  return { code, stdout, stderr };
}

/** An error in JSON mode: one document on stderr, nothing on stdout. */
function usageError(run: Run): string {
  expect({ exit: run.code, stdout: run.stdout }).toEqual({ exit: 2, stdout: '' });
  return (JSON.parse(run.stderr) as { error: { message: string } }).error.message;
}

type Shown = { logo: { contentType: string; bytes: number; sha256: string } | null; logoUri: string | null };
const show = async (clientId: string) => json<Shown>(await cli('client', 'show', clientId, '--json'));

/** kapu running on the database the CLI wrote. */
async function withKapu(fn: (kapu: Kapu) => Promise<void>): Promise<void> {
  const kapu = await startKapu(loadConfig({ ...env, PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent' }), { log: createLogger('silent'), database: borrowed(shared) }, { issuerFromPort: true, host: '127.0.0.1' });
  try {
    await fn(kapu);
  } finally {
    await kapu.stop();
  }
}

/** A citizen sent by the RP `clientId` to kapu: the method chooser, in Hungarian or English. */
async function chooser(kapu: Kapu, clientId: string, lang = 'hu'): Promise<{ browser: Browser; page: Page }> {
  const rp = await oidc.discovery(new URL(kapu.url), clientId, secrets[clientId], undefined, { execute: [oidc.allowInsecureRequests] });
  const browser = new Browser(kapu.url, { 'accept-language': lang });
  const page = await browser.go((await beginSignIn(rp)).url);
  expect(page.status).toBe(200);
  return { browser, page };
}

/** What the top of a sign-in page says about the service. */
function card(page: Page) {
  const img = page.doc.querySelector('main .rp img');
  const link = page.doc.querySelector('main .rp a');
  return {
    text: page.doc.querySelector('main .rp .rp-name')?.text.trim() ?? null,
    logo: img ? { src: img.getAttribute('src'), alt: img.getAttribute('alt') } : null,
    link: link ? { href: link.getAttribute('href'), rel: link.getAttribute('rel'), text: link.text.replace(/\s+/g, ' ').trim() } : null,
  };
}

describe('a logo given with --logo-file', () => {
  test('an SVG, an oversized file and a file that is no image are refused, saying why, and nothing is written', async () => {
    const add = (logo: string) => cli('client', 'add', '--id', 'rossz-logo', '--redirect-uri', RP_REDIRECT, '--logo-file', file(logo), '--json');
    expect(usageError(await add('logo.svg'))).toMatch(/--logo-file .*logo\.svg: the logo is an SVG image: only PNG, JPEG or WebP are accepted/);
    // The name says PNG, the bytes say SVG: the bytes decide.
    expect(usageError(await add('svg-named.png'))).toMatch(/the logo is an SVG image/);
    expect(usageError(await add('big.png'))).toMatch(/the logo is \d+ bytes; at most 65536 bytes \(64 KiB\)/);
    expect(usageError(await add('notes.png'))).toMatch(/the logo is not a PNG, JPEG or WebP image \(judged by its content, not its name\)/);
    expect(usageError(await add('missing.png'))).toMatch(/cannot read --logo-file: ENOENT/);
    expect(usageError(await cli('client', 'add', '--id', 'rossz-logo', '--redirect-uri', RP_REDIRECT, '--logo-file', '', '--json'))).toMatch(/--logo-file needs a file name/);
    expect(json(await cli('client', 'list', '--json'))).toEqual([]);
  });

  test("the sign-in pages show the service's name, its logo from kapu's own address, and a link to its home page", async () => {
    const added = await cli('client', 'add', '--id', 'ado', '--name', NAME, '--redirect-uri', RP_REDIRECT, '--client-uri', HOME, '--logo-file', file('logo.png'));
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`The logo (${LOGO.length} bytes) is shown on the sign-in pages`);
    secrets['ado'] = /client_secret: (\S+)/.exec(added.stdout)![1]!;
    const plain = json<{ clientSecret: string }>(await cli('client', 'add', '--id', 'egyszeru', '--name', 'Egyszerű Hivatal', '--redirect-uri', RP_REDIRECT, '--json'));
    secrets['egyszeru'] = plain.clientSecret;

    const stored = await show('ado');
    expect(stored.logo).toEqual({ contentType: 'image/png', bytes: LOGO.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), updatedAt: expect.any(String) });
    expect((await show('egyszeru')).logo).toBeNull();

    await withKapu(async (kapu) => {
      const { browser, page } = await chooser(kapu, 'ado');
      const shown = card(page);
      // The name is text, never markup: "<Hivatal>" stays words on the page.
      expect(shown.text).toBe(`Bejelentkezés ide: ${NAME}`);
      expect(page.doc.querySelector('main .rp hivatal')).toBeNull();
      expect(shown.logo).toEqual({ src: expect.stringMatching(/^\/clients\/ado\/logo\?v=[0-9a-f]{16}$/), alt: '' });
      expect(shown.link).toEqual({ href: HOME, rel: 'noopener noreferrer', text: `${NAME} honlapja (új lapon nyílik meg)` });
      // The page itself still loads images from its own origin only.
      expect(page.headers.get('content-security-policy')).toContain("img-src 'self' data:");

      // The logo's address is kapu's own and serves exactly the file's bytes, as the image it is.
      const logoUrl = new URL(shown.logo!.src!, page.url);
      expect(logoUrl.origin).toBe(new URL(kapu.url).origin);
      const logo = await fetch(logoUrl);
      expect(logo.status).toBe(200);
      expect(Buffer.from(await logo.arrayBuffer()).equals(LOGO)).toBe(true);
      expect({
        type: logo.headers.get('content-type'),
        nosniff: logo.headers.get('x-content-type-options'),
        cache: logo.headers.get('cache-control'),
        etag: logo.headers.get('etag'),
      }).toEqual({ type: 'image/png', nosniff: 'nosniff', cache: 'public, max-age=31536000, immutable', etag: `"${stored.logo!.sha256}"` });
      // A browser checking its copy (fetch() would add "no-cache" to a conditional request: a reload asks max-age=0).
      expect((await fetch(logoUrl, { headers: { 'if-none-match': `"${stored.logo!.sha256}"`, 'cache-control': 'max-age=0' } })).status).toBe(304);

      // The next step says the same.
      const passwordPage = await browser.submit(page, '/method', {}, { name: 'method', value: 'email' });
      expect(card(passwordPage)).toEqual(shown);

      // In English too.
      const english = card((await chooser(kapu, 'ado', 'en')).page);
      expect([english.text, english.link?.text]).toEqual([`Sign in to ${NAME}`, `Website of ${NAME} (opens in a new tab)`]);

      // An RP without logo or home page: its name only, and no logo to fetch.
      expect(card((await chooser(kapu, 'egyszeru')).page)).toEqual({ text: 'Bejelentkezés ide: Egyszerű Hivatal', logo: null, link: null });
      expect((await fetch(new URL('/clients/egyszeru/logo', kapu.url))).status).toBe(404);
      expect((await fetch(new URL('/clients/senki/logo', kapu.url))).status).toBe(404);
    });
  });

  test('update replaces the logo (a refused file leaves it as it was) and --no-logo removes it', async () => {
    const before = (await show('ado')).logo!;
    expect(usageError(await cli('client', 'update', 'ado', '--logo-file', file('logo.svg'), '--json'))).toMatch(/SVG/);
    expect(usageError(await cli('client', 'update', 'ado', '--logo-file', file('logo.jpg'), '--no-logo', '--json'))).toMatch(/give --logo-file or --no-logo, not both/);
    expect(usageError(await cli('client', 'update', 'ado', '--logo-file', '', '--json'))).toMatch(/--no-logo removes the logo/);
    expect((await show('ado')).logo).toEqual(before);

    expect(json(await cli('client', 'update', 'ado', '--logo-file', file('logo.jpg'), '--json'))).toEqual({ clientId: 'ado', changed: ['logo'] });
    // The same image again is no change.
    expect(json(await cli('client', 'update', 'ado', '--logo-file', file('logo.jpg'), '--json'))).toEqual({ clientId: 'ado', changed: [] });
    const jpeg = (await show('ado')).logo!;
    expect(jpeg).toMatchObject({ contentType: 'image/jpeg', bytes: JPEG.length });

    await withKapu(async (kapu) => {
      const src = card((await chooser(kapu, 'ado')).page).logo!.src!;
      expect(src).not.toContain(before.sha256.slice(0, 16));
      const logo = await fetch(new URL(src, kapu.url));
      expect(logo.headers.get('content-type')).toBe('image/jpeg');
      expect(Buffer.from(await logo.arrayBuffer()).equals(JPEG)).toBe(true);
      // A page cached with the old address gets the new logo, but not for keeps.
      const old = await fetch(new URL(`/clients/ado/logo?v=${before.sha256.slice(0, 16)}`, kapu.url));
      expect([old.status, old.headers.get('content-type'), old.headers.get('cache-control')]).toEqual([200, 'image/jpeg', 'no-cache']);
    });

    expect(json(await cli('client', 'update', 'ado', '--logo-file', file('logo.webp'), '--json'))).toEqual({ clientId: 'ado', changed: ['logo'] });
    expect((await show('ado')).logo).toMatchObject({ contentType: 'image/webp', bytes: WEBP.length });

    const removed = await cli('client', 'update', 'ado', '--no-logo');
    expect([removed.code, removed.stdout.trim()]).toEqual([0, 'client ado updated: logo']);
    expect((await show('ado')).logo).toBeNull();
    await withKapu(async (kapu) => {
      const shown = card((await chooser(kapu, 'ado')).page);
      expect(shown).toEqual({ text: `Bejelentkezés ide: ${NAME}`, logo: null, link: expect.objectContaining({ href: HOME }) });
      expect((await fetch(new URL('/clients/ado/logo', kapu.url))).status).toBe(404);
    });
  });

  test('--logo-uri stays metadata: kapu shows no logo for it', async () => {
    expect(json(await cli('client', 'update', 'egyszeru', '--logo-uri', 'https://egyszeru.example.hu/logo.png', '--json'))).toEqual({ clientId: 'egyszeru', changed: ['logo_uri'] });
    expect(await show('egyszeru')).toMatchObject({ logo: null, logoUri: 'https://egyszeru.example.hu/logo.png' });
    await withKapu(async (kapu) => {
      expect(card((await chooser(kapu, 'egyszeru')).page).logo).toBeNull();
    });
  });

  test('removing a client removes its logo', async () => {
    expect(json(await cli('client', 'update', 'egyszeru', '--logo-file', file('logo.png'), '--json'))).toEqual({ clientId: 'egyszeru', changed: ['logo'] });
    expect(json(await cli('client', 'remove', 'egyszeru', '--json'))).toEqual({ clientId: 'egyszeru', removed: true });
    // Registered again under the same id, it starts without the old logo.
    json(await cli('client', 'add', '--id', 'egyszeru', '--redirect-uri', RP_REDIRECT, '--json'));
    expect((await show('egyszeru')).logo).toBeNull();
  });
});
