/**
 * Input that no route can use is refused as a 400 before any route (kapu's or the provider's)
 * sees it: a NUL character (Postgres refuses it in text and JSON, which surfaced as a 500), a
 * percent-encoding that is not UTF-8, and an oversized path or query. Checked on the path, the
 * query and, for the provider's routes, the form or JSON body (kapu's own bodies are decoded as
 * strictly by src/http/body.ts). Duplicated parameters are left to each route, which refuses them
 * as a 400.
 */
import type { Context, Next } from 'koa';
import { KapuError } from '../errors.ts';

/** Longer than any real authorization request (a `request` object belongs in PAR). */
export const MAX_QUERY_BYTES = 8 * 1024;
const MAX_PATH_BYTES = 1024;
/** oidc-provider's own body limit. */
const MAX_BODY_BYTES = 56 * 1024;

export class BadInput extends KapuError {
  constructor(reason: string) {
    // OAuth's code for a malformed request; kapu's pages show the generic bad-request text.
    super('invalid_request', 400, 'error.bad_request', { cause: new Error(reason) });
  }
}

export class PayloadTooLarge extends KapuError {
  constructor() {
    super('payload_too_large', 413, 'error.too_large');
  }
}

/** Does this decoded value hold something no route can store or use? */
export function hasNul(value: string): boolean {
  return value.includes('\0');
}

/** Checks an x-www-form-urlencoded string (a query or a form body); throws BadInput. */
export function checkEncoded(encoded: string, what: string): void {
  for (const pair of encoded.split('&')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pair.replace(/\+/g, ' '));
    } catch {
      throw new BadInput(`${what}: not UTF-8`);
    }
    if (hasNul(decoded)) throw new BadInput(`${what}: NUL character`);
  }
}

function checkPathAndQuery(ctx: Context): void {
  if (Buffer.byteLength(ctx.path) > MAX_PATH_BYTES) throw new BadInput('path too long');
  let path: string;
  try {
    path = decodeURIComponent(ctx.path);
  } catch {
    throw new BadInput('path: not UTF-8');
  }
  if (hasNul(path)) throw new BadInput('path: NUL character');
  const query = ctx.querystring;
  if (Buffer.byteLength(query) > MAX_QUERY_BYTES) throw new BadInput('query too long');
  if (query) checkEncoded(query, 'query');
}

/** kapu's own routes: the path and query (their form bodies are checked by formBody). */
export function guardRequestLine() {
  return async (ctx: Context, next: Next) => {
    checkPathAndQuery(ctx);
    await next();
  };
}

/**
 * The provider's routes: the body too. The provider reads the body itself, so the body read
 * here is handed back to it as the request stream it expects.
 */
export async function guardProviderRequest(ctx: Context): Promise<void> {
  checkPathAndQuery(ctx);
  const form = ctx.is('application/x-www-form-urlencoded');
  const json = ctx.is('application/json');
  if (!form && !json) return;
  const declared = ctx.request.length;
  if (declared !== undefined && declared > MAX_BODY_BYTES) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new PayloadTooLarge();
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks, size);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new BadInput('body: not UTF-8');
  }
  if (form) checkEncoded(text, 'body');
  else if (hasNul(text) || /\\u0000/i.test(text)) throw new BadInput('body: NUL character');
  replayBody(ctx, body);
}

/**
 * Lets the next reader of ctx.req (oidc-provider's body parser, which reads `readable` and then
 * `req.iterator()`) read `body` as the stream: one chunk, then the end. No stream is made for
 * it: every token request passes here.
 */
function replayBody(ctx: Context, body: Buffer): void {
  let readable = true;
  const req = ctx.req as unknown as Record<string, unknown>;
  Object.defineProperty(req, 'readable', { configurable: true, get: () => readable });
  req['iterator'] = async function* () {
    readable = false;
    if (body.length > 0) yield body;
  };
}
