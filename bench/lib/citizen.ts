/**
 * A lean scripted citizen for the load generator: fetch with a cookie jar and manual
 * redirects, and forms read with regular expressions. It does what the test browser does
 * (test/helpers/browser.ts) at a fraction of its CPU, so the generator stays out of the way
 * of the server it measures. It presses the page's own buttons: it knows no kapu URL.
 */
export interface LeanPage {
  url: URL;
  status: number;
  html: string;
}

interface Form {
  action: URL;
  method: string;
  fields: Array<[string, string]>;
  buttons: Array<{ name: string; value: string }>;
}

const FORM = /<form\b([^>]*)>([\s\S]*?)<\/form>/g;
const INPUT = /<input\b([^>]*)>/g;
const BUTTON = /<button\b([^>]*)>/g;

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? decodeEntities(m[1]!) : undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]!);
}

function formsOf(page: LeanPage): Form[] {
  const forms: Form[] = [];
  for (const [, attrs, body] of page.html.matchAll(FORM)) {
    const fields: Array<[string, string]> = [];
    for (const [, a] of body!.matchAll(INPUT)) {
      const name = attr(a!, 'name');
      if (name && attr(a!, 'type') !== 'submit') fields.push([name, attr(a!, 'value') ?? '']);
    }
    const buttons = [...body!.matchAll(BUTTON)].map(([, a]) => ({ name: attr(a!, 'name') ?? '', value: attr(a!, 'value') ?? '' }));
    forms.push({ action: new URL(attr(attrs!, 'action') ?? '', page.url), method: (attr(attrs!, 'method') ?? 'get').toUpperCase(), fields, buttons });
  }
  return forms;
}

export class LeanBrowser {
  readonly #home: string;
  readonly #cookies = new Map<string, { value: string; path: string }>();
  /** Where the last redirect chain left kapu (the RP's callback). */
  exitUrl: URL | undefined;

  constructor(kapuUrl: string) {
    this.#home = new URL(kapuUrl).origin;
  }

  async go(url: string | URL, init: { method?: string; body?: string } = {}): Promise<LeanPage> {
    let target = new URL(url, this.#home);
    let request = init;
    for (let hops = 0; hops < 20; hops += 1) {
      if (target.origin !== this.#home) {
        this.exitUrl = target;
        return { url: target, status: 0, html: '' };
      }
      const headers: Record<string, string> = { cookie: this.#cookieHeader(target), accept: 'text/html' };
      if (request.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(target, { method: request.method ?? 'GET', body: request.body, headers, redirect: 'manual' });
      this.#store(res.headers);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        target = new URL(location, target);
        request = {};
        continue;
      }
      return { url: target, status: res.status, html: await res.text() };
    }
    throw new Error('too many redirects');
  }

  /** Presses the button `name=value` (or the first button of the form posting to `actionSuffix`). */
  async press(page: LeanPage, which: { button?: { name: string; value: string }; action?: string }, typed: Record<string, string> = {}): Promise<LeanPage> {
    const form = formsOf(page).find((f) =>
      which.button ? f.buttons.some((b) => b.name === which.button!.name && b.value === which.button!.value) : f.action.pathname.endsWith(which.action!),
    );
    if (!form) throw new Error(`no such form on ${page.url.pathname} (status ${page.status}): ${page.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`);
    const data = new URLSearchParams(form.fields);
    for (const [k, v] of Object.entries(typed)) data.set(k, v);
    if (which.button) data.set(which.button.name, which.button.value);
    if (form.method === 'GET') {
      const target = new URL(form.action);
      target.search = data.toString();
      return this.go(target);
    }
    return this.go(form.action, { method: 'POST', body: data.toString() });
  }

  #cookieHeader(url: URL): string {
    return [...this.#cookies]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([key, c]) => `${key.slice(0, key.indexOf(';'))}=${c.value}`)
      .join('; ');
  }

  #store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = value === '' || attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a));
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { value, path });
    }
  }
}
