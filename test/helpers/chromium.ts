/**
 * A real browser for tests: Debian's Chromium, driven by playwright-core. Never a browser build
 * that Playwright downloads itself. Its headless shell (`apt-get install chromium-headless-shell`;
 * CI does it in .ci/run) is the same engine without the desktop browser around it (no window, no
 * browser UI of its own to render): the browser files take half the CPU they take in the full
 * browser, which is used where the shell is not installed.
 * Without the binary, a browser suite skips itself and says why, rather than failing: the rest
 * of the suite must still run on a machine that has no browser.
 *
 * Also: axe-core checks of a page, QR codes read off it, and a few measurements that need a
 * layout engine.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import jsqr from 'jsqr';
import { type Browser, type BrowserContext, type BrowserContextOptions, type Page, chromium } from 'playwright-core';

export const CHROMIUM_PATH =
  process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((path) => existsSync(path)) ?? '/usr/bin/chromium';

/**
 * Headless, and quiet: the browser itself must not reach for the network (updates, sync, QUIC
 * probes). No host name resolves either, so a request a test forgot to intercept (the RP's
 * made-up address) fails on the spot instead of asking a DNS server; kapu is 127.0.0.1.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

/** `describe` when Chromium is installed; otherwise `describe.skip`, with the reason printed. */
export function describeWithChromium(name: string, body: () => void): void {
  if (existsSync(CHROMIUM_PATH)) {
    describe(name, body);
    return;
  }
  const reason = `no browser at ${CHROMIUM_PATH} (apt-get install chromium-headless-shell, or set CHROMIUM_PATH)`;
  console.warn(`SKIPPING browser tests "${name}": ${reason}`);
  describe.skip(`${name} [skipped: ${reason}]`, body);
}

/** One browser per test file; each test takes a new context (fresh cookies) from it. */
export function launchChromium(): Promise<Browser> {
  // Playwright gives the browser a fresh temporary profile and removes it on close.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Does `action`, which ends with kapu redirecting the browser to the RP at `origin`, and resolves
 * with the address the browser was sent to, once the page has settled. No test serves the RP.
 * The full browser restarts a redirect to another site as a navigation of its own, which a
 * route answers; the headless shell follows it in one go, a redirect's hop never reaches
 * Playwright's routes, and the request fails with an error page at chrome-error://. So the
 * address is read from the request, which both report, and the next step waits until the page
 * is in place, so that nothing it does is cut short by a late error page.
 */
export async function redirectedTo(page: Page, origin: string, action: () => Promise<unknown>): Promise<URL> {
  const atRp = (url: string) => new URL(url).origin === origin;
  const arrived = Promise.all([
    page.waitForRequest((r) => r.isNavigationRequest() && atRp(r.url())),
    page.waitForEvent('framenavigated', (f) => f === page.mainFrame() && (atRp(f.url()) || f.url().startsWith('chrome-error:'))),
  ]);
  try {
    await action();
  } catch (err) {
    arrived.catch(() => {});
    throw err;
  }
  const [request] = await arrived;
  await page.waitForLoadState();
  return new URL(request.url());
}

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 }, locale: 'hu-HU' };
export const MOBILE: BrowserContextOptions = {
  viewport: { width: 375, height: 667 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'hu-HU',
};

/**
 * A context whose page can run axe. kapu's CSP allows no script at all, so the injected axe
 * script needs the CSP bypassed: use it for accessibility checks only, and a plain context
 * wherever the CSP itself is part of what a test proves (a sign-in that reaches the RP).
 */
export function axeContext(browser: Browser, options: BrowserContextOptions = DESKTOP): Promise<BrowserContext> {
  return browser.newContext({ ...options, bypassCSP: true });
}

/** A violation, summed up for a failure message: rule, impact, what is wrong, and where. */
export interface Violation {
  rule: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** WCAG 2.0 and 2.1, A and AA: what EN 301 549 (the EU's public-sector standard) asks for. */
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe's serious and critical violations on the page as it is now (needs an `axeContext`). */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.addScriptTag({ content: axe.source });
  const options = JSON.stringify({ runOnly: { type: 'tag', values: AXE_TAGS }, resultTypes: ['violations'] });
  // A string, not a function: the test code is type-checked without DOM types.
  const violations = (await page.evaluate(`axe.run(document, ${options}).then((r) => r.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ') + ' → ' + n.failureSummary),
  })))`)) as Violation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// jsqr is CommonJS; Node's ESM gives its module object, which is the function (with itself as `default`).
const jsQR = jsqr as unknown as typeof jsqr.default;

/**
 * The text of the QR code in the image at `selector`, read from its pixels as a phone's camera
 * would: drawn at `size`×`size` on white, decoded by jsqr. The pixels leave the page as one
 * base64 string: as an array, each of the 640,000 numbers of a 400×400 picture crosses the
 * devtools protocol on its own, which took 15 s.
 */
export async function qrCodeOn(page: Page, selector: string, size = 400): Promise<string> {
  await page.locator(selector).waitFor();
  const pixels = (await page.evaluate(`(async () => {
    const img = document.querySelector(${JSON.stringify(selector)});
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = ${size}; canvas.height = ${size};
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, ${size}, ${size});
    g.drawImage(img, 0, 0, ${size}, ${size});
    const bytes = g.getImageData(0, 0, ${size}, ${size}).data;
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  })()`)) as string;
  const code = jsQR(new Uint8ClampedArray(Buffer.from(pixels, 'base64')), size, size);
  if (!code) throw new Error(`no QR code could be read at ${selector}`);
  return code.data;
}

/** The id (or else the tag and class) of the element that has the keyboard focus. */
export async function focused(page: Page): Promise<string> {
  return (await page.evaluate(
    `(() => { const e = document.activeElement; return e ? (e.id ? '#' + e.id : e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')) : ''; })()`,
  )) as string;
}

/** How far the page scrolls sideways (0: it fits the viewport's width). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
}

/**
 * With KAPU_SCREENSHOTS set to a folder (outside the repository, e.g. /tmp/kapu-shots), saves
 * a full-page screenshot there for a person to look at; otherwise does nothing.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env['KAPU_SCREENSHOTS'];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
