/**
 * A small browser for tests: a cookie jar, manual redirects, and forms read from the HTML
 * kapu serves (node-html-parser). It submits what a person would: the page's own forms and
 * hidden fields, with the fields they type.
 */
import { type HTMLElement, parse } from 'node-html-parser';

interface Cookie {
  name: string;
  value: string;
  path: string;
}

export class Page {
  readonly url: URL;
  readonly status: number;
  readonly html: string;
  readonly doc: HTMLElement;
  readonly headers: Headers;

  constructor(url: URL, status: number, html: string, headers: Headers) {
    this.url = url;
    this.status = status;
    this.html = html;
    this.headers = headers;
    this.doc = parse(html);
  }

  text(selector: string): string {
    return this.doc.querySelector(selector)?.text.trim() ?? '';
  }

  /** The page's visible text, whitespace folded: what a reader would see. */
  get visibleText(): string {
    return (this.doc.querySelector('main')?.text ?? this.doc.text).replace(/\s+/g, ' ').trim();
  }

  value(selector: string): string | undefined {
    return this.doc.querySelector(selector)?.getAttribute('value');
  }

  /** The form whose action ends with `actionSuffix`. */
  form(actionSuffix: string): HTMLElement {
    const form = this.doc.querySelectorAll('form').find((f) => (f.getAttribute('action') ?? '').endsWith(actionSuffix));
    if (!form) throw new Error(`no form ending in ${actionSuffix} on ${this.url.pathname}: ${this.visibleText.slice(0, 300)}`);
    return form;
  }

  hasForm(actionSuffix: string): boolean {
    return this.doc.querySelectorAll('form').some((f) => (f.getAttribute('action') ?? '').endsWith(actionSuffix));
  }
}

export class Browser {
  readonly #cookies = new Map<string, Cookie>();
  readonly #home: string;
  /** Headers this browser sends with every request (e.g. its Accept-Language). */
  readonly #defaults: Record<string, string>;
  /** Where the last redirect chain left kapu (the RP's callback). */
  exitUrl: URL | undefined;

  constructor(kapuUrl: string, defaultHeaders: Record<string, string> = {}) {
    this.#home = new URL(kapuUrl).origin;
    this.#defaults = defaultHeaders;
  }

  /** The value of a cookie this browser holds (any path), if it holds one. */
  cookie(name: string): string | undefined {
    return [...this.#cookies.values()].find((c) => c.name === name)?.value;
  }

  /** Follows redirects within kapu; stops at the first hop to another origin (the RP). */
  async go(url: string | URL, init: RequestInit = {}): Promise<Page> {
    let target = new URL(url, this.#home);
    let request: RequestInit = init;
    for (let hops = 0; hops < 20; hops += 1) {
      if (target.origin !== this.#home) {
        this.exitUrl = target;
        return new Page(target, 0, '', new Headers());
      }
      const res = await fetch(target, { ...request, redirect: 'manual', headers: { ...this.#headers(target), ...(request.headers as Record<string, string>) } });
      this.#store(res.headers);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        target = new URL(location, target);
        request = {};
        continue;
      }
      return new Page(target, res.status, await res.text(), res.headers);
    }
    throw new Error('too many redirects');
  }

  /** Submits a form of `page` the way a browser would, with `fields` typed in and `button` pressed. */
  async submit(page: Page, actionSuffix: string, fields: Record<string, string> = {}, button?: { name: string; value: string }): Promise<Page> {
    const form = page.form(actionSuffix);
    const data = new URLSearchParams();
    for (const input of form.querySelectorAll('input')) {
      const name = input.getAttribute('name');
      if (name && input.getAttribute('type') !== 'submit') data.set(name, input.getAttribute('value') ?? '');
    }
    for (const [k, v] of Object.entries(fields)) data.set(k, v);
    if (button) data.set(button.name, button.value);
    const action = new URL(form.getAttribute('action') ?? '', page.url);
    const method = (form.getAttribute('method') ?? 'get').toUpperCase();
    if (method === 'GET') {
      action.search = data.toString();
      return this.go(action);
    }
    return this.go(action, { method: 'POST', body: data.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  /** A raw POST with this browser's cookies (for bad-input tests). */
  async post(path: string, body: string | Uint8Array, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
    const url = new URL(path, this.#home);
    const res = await fetch(url, { method: 'POST', body, redirect: 'manual', headers: { ...this.#headers(url), 'content-type': contentType } });
    this.#store(res.headers);
    return res;
  }

  #headers(url: URL): Record<string, string> {
    const cookies = [...this.#cookies.values()].filter((c) => url.pathname.startsWith(c.path));
    return { ...this.#defaults, ...(cookies.length && { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') }) };
  }

  #store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }
}
