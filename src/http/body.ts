/**
 * Form bodies for kapu's own pages: urlencoded only, 16 KiB at most. Anything else is a clear
 * 4xx before a step runs, so nothing is stored half-way.
 */
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { KapuError } from '../errors.ts';
import { BadInput, findNul } from './input-guard.ts';

const FORM_LIMIT = '16kb';

export class UnsupportedMediaType extends KapuError {
  constructor() {
    super('unsupported_media_type', 415, 'error.bad_request');
  }
}

export class PayloadTooLarge extends KapuError {
  constructor() {
    super('payload_too_large', 413, 'error.too_large');
  }
}

export function formBody() {
  const parse = bodyParser({
    enableTypes: ['form'],
    formLimit: FORM_LIMIT,
    onError: (err: Error & { status?: number; type?: string }) => {
      if (err.status === 413 || err.type === 'entity.too.large') throw new PayloadTooLarge();
      throw new KapuError('bad_request', 400, 'error.bad_request', { cause: err });
    },
  });
  return async (ctx: Context, next: Next) => {
    if (!ctx.is('application/x-www-form-urlencoded')) throw new UnsupportedMediaType();
    await parse(ctx, async () => {});
    const body = (ctx.request as { body?: unknown }).body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new KapuError('bad_request', 400, 'error.bad_request');
    if (findNul(body)) throw new BadInput('form: NUL character');
    await next();
  };
}
