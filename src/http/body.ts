/**
 * Request bodies of kapu's own routes: urlencoded forms (16 KiB at most) for its pages, JSON
 * (8 KiB) for the device API. Read as bytes and decoded strictly: bytes that are not UTF-8,
 * percent-encoding that is not UTF-8 (`%C3%28`, an encoded surrogate `%ED%A0%80`), a NUL
 * character or a stray `%` are refused as a 400 before any step runs — never turned into
 * U+FFFD and passed on, so nothing is stored half-way or changed on its way in.
 */
import type { Context, Next } from 'koa';
import { KapuError } from '../errors.ts';
import { BadInput, PayloadTooLarge, hasNul } from './input-guard.ts';

const FORM_LIMIT_BYTES = 16 * 1024;

export class UnsupportedMediaType extends KapuError {
  constructor() {
    super('unsupported_media_type', 415, 'error.bad_request');
  }
}

/** A value no field can hold (a NUL, a lone surrogate) in a body that is otherwise well formed. */
export class UnusableValue extends BadInput {}

/** A parsed form: each name once (a string), or repeated (its values in order). */
export type Form = Record<string, string | string[]>;

/** kapu's forms: the body parsed into `ctx.request.body`, or a 4xx (HTML or JSON, by the error handler). */
export function formBody() {
  return async (ctx: Context, next: Next) => {
    if (!ctx.is('application/x-www-form-urlencoded') || !isUtf8Charset(ctx)) throw new UnsupportedMediaType();
    (ctx.request as { body?: unknown }).body = decodeForm(await readBody(ctx, FORM_LIMIT_BYTES));
    await next();
  };
}

/**
 * The body's bytes, at most `limit` of them (413 beyond). A body sent compressed is refused
 * (415): kapu's clients never compress what they post.
 */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
  if (encoding && encoding !== 'identity') throw new UnsupportedMediaType();
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new PayloadTooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof PayloadTooLarge) throw err;
    // The client went away mid-body, or sent less than it declared.
    throw new KapuError('bad_request', 400, 'error.bad_request', { cause: err });
  }
  return Buffer.concat(chunks, size);
}

/** UTF-8 bytes as text; anything else (a stray byte, an overlong form, a surrogate) is BadInput. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new BadInput(`${what}: not UTF-8`);
  }
}

/**
 * An application/x-www-form-urlencoded body, strictly: the bytes and every percent-encoded
 * name and value must be UTF-8, and nothing may hold a NUL. A name given twice keeps both
 * values (each route refuses what it cannot use); names are taken as they are (`a[b]` is a name,
 * not an object), into an object with no prototype.
 */
export function decodeForm(bytes: Uint8Array): Form {
  const text = decodeUtf8(bytes, 'form');
  const form: Form = Object.create(null) as Form;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1));
    const before = form[name];
    form[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return form;
}

/**
 * A JSON body, strictly: UTF-8 bytes (RFC 8259 §8.1), then JSON; no string in it may hold a NUL
 * or an escaped surrogate that names no character (`"\ud800"`). Throws BadInput.
 */
export function decodeJson(bytes: Uint8Array): unknown {
  const text = decodeUtf8(bytes, 'json');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadInput('json: not JSON');
  }
  if (findUnusable(value)) throw new UnusableValue('json: NUL or lone surrogate');
  return value;
}

function decodeComponent(encoded: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new BadInput('form: percent-encoding not UTF-8');
  }
  if (hasNul(decoded)) throw new BadInput('form: NUL character');
  return decoded;
}

/** A lone (unpaired) surrogate: in a `u` regular expression a pair is one code point. */
const LONE_SURROGATE = /\p{Cs}/u;

function findUnusable(value: unknown): boolean {
  if (typeof value === 'string') return hasNul(value) || LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(findUnusable);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([k, v]) => findUnusable(k) || findUnusable(v));
  return false;
}

/** A form declared in another charset than UTF-8 is not one kapu reads. */
function isUtf8Charset(ctx: Context): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(ctx.get('Content-Type'))?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}
