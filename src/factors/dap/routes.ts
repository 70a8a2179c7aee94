/**
 * The device API the phone app speaks, versioned under /api/device/v1 (documented in the
 * README, so a native app can implement it), and the reference app itself under /app/.
 * Thin adapters over devices.ts: JSON in (8 KiB at most), JSON out; every
 * refusal is a 4xx with `{ "error": code }`, never a page, never a stack trace.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { UnsupportedMediaType, UnusableValue, decodeJson, readBody } from '../../http/body.ts';
import { PayloadTooLarge } from '../../http/input-guard.ts';
import { DEFAULT_LANG, pickLang } from '../../views.ts';
import type { Who } from '../../auth/who.ts';
import { browserOf } from '../../http/browser.ts';
import type { ApiResult, DeviceService } from './devices.ts';

export const API_PREFIX = '/api/device/v1';
const JSON_LIMIT_BYTES = 8 * 1024;

/** Errors of the API itself (not of a step): the body could not be read. */
function jsonError(ctx: Context, status: number, error: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, request_id: ctx.state['reqId'] };
}

/**
 * The JSON body, read strictly (src/http/body.ts): bytes that are not UTF-8 are no JSON
 * (`invalid_json`); a string holding a NUL or a lone surrogate is no field value
 * (`invalid_request`).
 */
function jsonBody() {
  return async (ctx: Context, next: Next) => {
    if (!ctx.is('application/json')) return jsonError(ctx, 415, 'unsupported_media_type');
    let body: unknown;
    try {
      body = decodeJson(await readBody(ctx, JSON_LIMIT_BYTES));
    } catch (err) {
      if (err instanceof PayloadTooLarge) return jsonError(ctx, 413, 'payload_too_large');
      if (err instanceof UnsupportedMediaType) return jsonError(ctx, 415, 'unsupported_media_type');
      return jsonError(ctx, 400, err instanceof UnusableValue ? 'invalid_request' : 'invalid_json');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return jsonError(ctx, 400, 'invalid_request');
    (ctx.request as { body?: unknown }).body = body;
    await next();
  };
}

/** The HTTP status of each of the API's refusals (documented with the API in the README). */
const STATUS: Record<string, number> = {
  invalid_request: 400,
  invalid_pin: 400,
  bad_signature: 401,
  wrong_pin: 401,
  wrong_account: 403,
  wrong_number: 403,
  unknown_device: 404,
  unknown_challenge: 404,
  challenge_decided: 409,
  enrollment_invalid: 410,
  challenge_expired: 410,
  device_locked: 423,
  throttled: 429,
};

function send<T>(ctx: Context, result: ApiResult<T>, okStatus = 200): void {
  ctx.set('Cache-Control', 'no-store');
  if (result.ok) {
    ctx.status = okStatus;
    ctx.body = result.value;
    return;
  }
  if (result.retryAfter) ctx.set('Retry-After', String(result.retryAfter));
  const error = result.code ?? 'invalid_request';
  ctx.status = STATUS[error] ?? 400;
  ctx.body = { error, ...result.detail, request_id: ctx.state['reqId'] };
}

export function deviceApiRoutes(devices: DeviceService): Router {
  const router = new Router({ prefix: API_PREFIX });
  const caller = (ctx: Context): Who => ({ ip: ctx.ip, lang: pickLang(ctx.get('Accept-Language')) ?? DEFAULT_LANG, browser: browserOf(ctx.get('User-Agent')) });
  const body = (ctx: Context) => (ctx.request as { body?: Record<string, unknown> }).body ?? {};

  // Whatever goes wrong below is JSON too (kapu's error handler answers JSON to API clients).
  router.use(async (ctx, next) => {
    ctx.request.headers['accept'] = 'application/json';
    await next();
  });
  router.post('/devices', jsonBody(), async (ctx) => send(ctx, await devices.enroll(body(ctx), caller(ctx)), 201));
  router.get('/challenges/:id', async (ctx) => send(ctx, await devices.challenge(String(ctx.params['id']), ctx.query['device'], caller(ctx))));
  router.post('/challenges/:id/approve', jsonBody(), async (ctx) => send(ctx, await devices.approve(String(ctx.params['id']), body(ctx), caller(ctx))));
  router.post('/challenges/:id/refuse', jsonBody(), async (ctx) => send(ctx, await devices.refuse(String(ctx.params['id']), body(ctx), caller(ctx))));
  return router;
}
