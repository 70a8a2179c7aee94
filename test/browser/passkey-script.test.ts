/**
 * The passkey page parts and their script in Chromium, with the DevTools protocol's virtual
 * authenticator, on a bare page: the parts rendered from the factor's own templates, the script
 * as kapu serves it, and the browser's answers checked by the real ceremony. The full flows (the
 * portal, an RP) are in test/browser/passkey.test.ts; this one pins down the script itself: it
 * creates and uses a passkey, it can be driven from the keyboard, and where the browser has no
 * WebAuthn it offers no button but a sentence saying why.
 */
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Browser, Page } from 'playwright-core';
import { cryptoRandom } from '../../src/clock.ts';
import { PasskeyCeremony } from '../../src/factors/passkey/ceremony.ts';
import { DESKTOP, describeWithChromium, launchChromium } from '../helpers/chromium.ts';
import { MemoryPasskeyStore } from '../helpers/passkey-store.ts';
import { VirtualAuthenticator } from '../helpers/virtual-authenticator.ts';

const FOLDER = new URL('../../src/factors/passkey/', import.meta.url);
const SCRIPT = readFileSync(new URL('assets/passkey.js', FOLDER));
const WORDS = JSON.parse(readFileSync(new URL('locales/en.json', FOLDER), 'utf8')) as Record<string, string>;
const ACCOUNT = { id: 'acc-1', username: 'kovacs.anna', name: 'Kovács Anna' };

describeWithChromium('the passkey script with a virtual authenticator', () => {
  let server: Server;
  let browser: Browser;
  let origin: string;
  let ceremony: PasskeyCeremony;
  const store = new MemoryPasskeyStore();
  const eta = new Eta({ views: fileURLToPath(new URL('views/', FOLDER)), autoEscape: true });
  const results: Array<{ ok: boolean; reason?: string }> = [];

  const page = (part: string, data: Record<string, unknown>) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>passkey</title></head><body><main><form method="post" action="/answer" novalidate>${eta.render(part, { ...data, t: (k: string) => WORDS[k] ?? k })}</form></main></body></html>`;

  beforeAll(async () => {
    server = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', origin);
        const html = (body: string) => {
          // kapu's CSP for a page with its script: nothing inline, nothing from elsewhere.
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; script-src 'self'; form-action 'self'" });
          res.end(body);
        };
        if (url.pathname === '/assets/passkey.js') {
          res.writeHead(200, { 'content-type': 'text/javascript' });
          return void res.end(SCRIPT);
        }
        if (url.pathname === '/add') {
          const options = await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT });
          return html(page('enroll', { factor: { options: JSON.stringify(options) } }));
        }
        if (url.pathname === '/sign-in') {
          const passwordless = url.searchParams.has('passwordless');
          const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: passwordless ? null : ACCOUNT.id });
          return html(page('sign-in', { factor: { options: JSON.stringify(options), passwordless } }));
        }
        if (url.pathname === '/answer') {
          const form = new URLSearchParams(await body(req));
          const credential = form.get('credential') ?? '';
          const parsed = JSON.parse(credential) as { response: { attestationObject?: string } };
          const result = parsed.response.attestationObject
            ? await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: credential, name: form.get('name') ?? '' })
            : await ceremony.authenticate(store, { flowId: 'uid-1', response: credential });
          results.push(result.ok ? { ok: true } : { ok: false, reason: result.reason });
          return html(`<!doctype html><title>done</title><p id="done">${result.ok ? 'ok' : 'refused'}</p>`);
        }
        res.writeHead(404).end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // WebAuthn takes no IP address as an RP ID: the page is on localhost.
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    ceremony = new PasskeyCeremony({ issuer: origin, rpName: 'Ügyfélkapu+', clock: { now: () => new Date() }, random: cryptoRandom, challengeSeconds: 600 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function tab(options: { webauthn?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext(DESKTOP);
    if (options.webauthn === false) await context.addInitScript('delete window.PublicKeyCredential');
    const p = await context.newPage();
    p.setDefaultTimeout(10_000);
    return p;
  }

  test('a passkey is created from the keyboard alone, named, and then signs in as the second factor and passwordless', async () => {
    const p = await tab();
    const authenticator = await VirtualAuthenticator.attach(p);
    await p.goto(`${origin}/add`);
    await p.getByRole('button', { name: 'Create passkey' }).waitFor();
    await expectUnsupportedHidden(p);
    await p.keyboard.press('Tab');
    await p.keyboard.type('Laptop');
    await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    await p.locator('#done').waitFor();
    expect(results.at(-1)).toEqual({ ok: true });
    expect(store.credentials.map((c) => c.name)).toEqual(['Laptop']);
    const [held] = await authenticator.credentials();
    expect(held).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

    await p.goto(`${origin}/sign-in`);
    await p.getByRole('button', { name: 'Use a passkey' }).click();
    await p.locator('#done').waitFor();
    expect(results.at(-1)).toEqual({ ok: true });

    await p.goto(`${origin}/sign-in?passwordless`);
    await p.getByRole('button', { name: 'Use a passkey' }).click();
    await p.locator('#done').waitFor();
    expect(results.at(-1)).toEqual({ ok: true });
    expect((await authenticator.credentials())[0]?.signCount).toBeGreaterThanOrEqual(2);
    await p.context().close();
  });

  test('a cancelled ceremony leaves the page as it was, says so, and the button works again', async () => {
    const p = await tab();
    // An authenticator that holds no passkey for this site: the browser's request ends without one.
    await VirtualAuthenticator.attach(p);
    await p.goto(`${origin}/sign-in?passwordless`);
    const before = results.length;
    await p.getByRole('button', { name: 'Use a passkey' }).click();
    await expectText(p, WORDS['passkey.cancelled']!);
    expect(results.length).toBe(before);
    expect(await p.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Use a passkey');
    await p.context().close();
  });

  test('without WebAuthn there is no button, only the sentence saying why', async () => {
    const p = await tab({ webauthn: false });
    await p.goto(`${origin}/sign-in`);
    await expectText(p, WORDS['passkey.unsupported']!);
    expect(await p.getByRole('button').count()).toBe(0);
    await p.goto(`${origin}/add`);
    await expectText(p, WORDS['passkey.unsupported_add']!);
    expect(await p.getByRole('button').count()).toBe(0);
    expect(await p.getByRole('textbox').count()).toBe(0);
    await p.context().close();
  });
});

async function expectUnsupportedHidden(p: Page): Promise<void> {
  expect(await p.locator('[data-passkey-unsupported]').isVisible()).toBe(false);
}

async function expectText(p: Page, text: string): Promise<void> {
  await p.getByText(text, { exact: true }).waitFor({ state: 'visible' });
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => resolve(data));
  });
}
