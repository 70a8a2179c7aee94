/**
 * The account portal under /account (SPEC §2): thin adapters over the core (src/auth/account.ts,
 * recovery.ts, and the sign-in core for signing in). Each route checks the form's CSRF token,
 * hands the form to one call of the core, and renders a page or sends the browser on (every
 * change is a POST answered by a redirect, except a törlőkód, which is shown once).
 */
import { timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Who } from '../auth/who.ts';
import type { Result } from '../auth/result.ts';
import type { PortalSession } from '../auth/portal-sessions.ts';
import type { Deps } from '../deps.ts';
import { CsrfFailed, NotFound } from '../errors.ts';
import { DEVICE_WORDS, type DeviceWords } from '../factors/capabilities.ts';
import type { FormFields, Notice } from '../factors/factor.ts';
import { formBody } from '../http/body.ts';
import { browserOf } from '../http/browser.ts';
import { FLOW_COOKIE, PORTAL_SESSION_COOKIE, getCookie, setCookie } from '../http/cookies.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { emailChangeRoutes } from './email-routes.ts';
import { factorRoutes } from './factor-routes.ts';
import { type Page, type PortalKit, enrolledNotice } from './kit.ts';
import { passwordRoutes } from './password-routes.ts';

/** A per-browser random value; the forms' CSRF token is its keyed hash. */
const FORM_COOKIE = 'kapu_form';
/** A refusal on its way from a form's POST to the GET of the same page (post/redirect/get). */
const REFUSED_COOKIE = 'kapu_account_refused';
/** Typed values a refused page shows again. */
const KEPT_FIELDS = ['email', 'username'];
const ID = /^[0-9a-f-]{36}$/;

/** Messages a redirect to /account may carry (?notice=…), from this fixed list only. */
const HOME_NOTICES = [
  'account.signed_out',
  'account.session_over',
  'account.factor_removed',
  'account.password_changed',
  'account.password_reset',
  'account.email_changed',
  'account.signed_out_everywhere',
  'account.app_removed',
  'account.device_removed',
];

export function accountRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/account' });
  const form = formBody();
  const { account, recovery, signIns, portalSessions } = deps;
  // The factors a citizen sets up here: the one that needs nothing installed first (the portal's order).
  const enrollable = deps.factors.having('enroll');
  const setUpOrder = [...enrollable.filter((f) => f.setUpFirst), ...enrollable.filter((f) => !f.setUpFirst)];
  const deviceWords = (factorId: string): DeviceWords => deps.factors.get(factorId)?.removal?.devices?.words ?? DEVICE_WORDS;
  const homeNotices = new Set([
    ...HOME_NOTICES,
    // A device removed: its factor's words say so.
    ...deps.factors.having('removal').flatMap((f) => (f.removal.devices ? [deviceWords(f.id).removed] : [])),
    // A setup's form sent again after it was confirmed (reloading the törlőkód page) is told `_before`.
    ...enrollable.flatMap((f) => [enrolledNotice(f.id), enrolledNotice(f.id, true)]),
  ]);

  // ---- what every page needs

  function formToken(ctx: Context): string {
    let value = getCookie(ctx, FORM_COOKIE);
    if (!value || !/^[A-Za-z0-9_-]{22,64}$/.test(value)) {
      value = deps.random.bytes(24).toString('base64url');
      setCookie(ctx, FORM_COOKIE, value, { path: '/account' });
    }
    return deps.box.mac('portal-form', value);
  }

  function checkForm(ctx: Context): FormFields {
    const fields = ((ctx.request as { body?: Record<string, unknown> }).body ?? {}) as FormFields;
    const cookie = getCookie(ctx, FORM_COOKIE);
    const token = Buffer.from(typeof fields['csrf'] === 'string' ? fields['csrf'] : '');
    const valid = cookie !== undefined && deps.box.macs('portal-form', cookie).some((expected) => token.length === Buffer.byteLength(expected) && timingSafeEqual(token, Buffer.from(expected)));
    if (!valid) throw new CsrfFailed();
    return fields;
  }

  async function page(ctx: Context): Promise<Page> {
    const session = await portalSessions.resolve(getCookie(ctx, PORTAL_SESSION_COOKIE));
    if (session) ctx.state['accountId'] = session.account.id;
    return { ctx, lang: resolveLang(ctx), csrf: formToken(ctx), session };
  }

  function who(p: Page): Who {
    return { ip: p.ctx.ip, lang: p.lang, browser: browserOf(p.ctx.get('User-Agent')) };
  }

  /**
   * Renders a portal page. A refusal answering a form (status ≥ 400 on a POST) is not rendered
   * at the POST address: it is carried once, in a short-lived cookie of that path, to a GET of
   * the same address (post/redirect/get), whose page then says it — so a reload never asks to
   * send the form again.
   */
  function render(p: Page, template: string, titleKey: string, data: Record<string, unknown> = {}, status = 200, scripts = false): void {
    if (p.ctx.method === 'POST' && status >= 400) {
      keepRefusal(p.ctx, status, data);
      return seeOther(p.ctx, p.ctx.path);
    }
    const kept = p.ctx.method === 'GET' ? takeRefusal(p.ctx) : null;
    if (kept) {
      data = { ...data, ...kept.fields, notice: kept.notice };
      status = kept.status;
    }
    renderPage(p.ctx, deps.views, template, { titleKey, csrf: p.csrf, account: p.session?.account ?? null, notice: null, langHere: p.ctx.path, ...data }, { lang: p.lang, status, scripts });
  }

  function keepRefusal(ctx: Context, status: number, data: Record<string, unknown>): void {
    // What the citizen typed that the page shows again (never a password or a code).
    const fields = Object.fromEntries(KEPT_FIELDS.filter((f) => typeof data[f] === 'string').map((f) => [f, (data[f] as string).slice(0, 200)]));
    const value = Buffer.from(JSON.stringify({ status, notice: data['notice'], fields })).toString('base64url');
    setCookie(ctx, REFUSED_COOKIE, value, { path: ctx.path, maxAgeMs: 60_000 });
  }

  function takeRefusal(ctx: Context): { status: number; notice: Notice; fields: Record<string, string> } | null {
    const raw = getCookie(ctx, REFUSED_COOKIE);
    if (raw === undefined) return null;
    setCookie(ctx, REFUSED_COOKIE, null, { path: ctx.path });
    try {
      const kept = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { status: number; notice: Notice; fields: Record<string, string> };
      const valid = Number.isInteger(kept.status) && kept.status >= 400 && kept.status < 500 && typeof kept.notice?.key === 'string';
      return valid ? { status: kept.status, notice: { ...kept.notice, error: true }, fields: kept.fields ?? {} } : null;
    } catch {
      return null;
    }
  }

  function seeOther(ctx: Context, location: string): void {
    ctx.status = 303;
    ctx.redirect(location);
  }

  /** Pages for a signed-in citizen: without a live session, back to the portal's front page. */
  const signedIn =
    (handler: (p: Page & { session: PortalSession }, fields: FormFields) => Promise<void>) =>
    async (ctx: Context) => {
      const p = await page(ctx);
      const fields = ctx.method === 'POST' ? checkForm(ctx) : {};
      if (!p.session) return seeOther(ctx, `/account?notice=account.session_over`);
      await handler(p as Page & { session: PortalSession }, fields);
    };

  /** Pages for anyone, signed in or not: a POST's form token is checked first. */
  const anyone =
    (handler: (p: Page, fields: FormFields) => Promise<void>) =>
    async (ctx: Context) => {
      const fields = ctx.method === 'POST' ? checkForm(ctx) : {};
      await handler(await page(ctx), fields);
    };

  function refusedStatus(done: Extract<Result, { ok: false }>): number {
    return REFUSAL_STATUS[done.refusal];
  }

  const idParam = (ctx: Context): string => {
    const id = ctx.params['id'];
    if (typeof id !== 'string' || !ID.test(id)) throw new NotFound();
    return id;
  };
  const text = (fields: FormFields, name: string): string => (typeof fields[name] === 'string' ? (fields[name] as string) : '');

  // ---- the front page, signing in and out

  router.get('/', async (ctx) => {
    const p = await page(ctx);
    const asked = ctx.query['notice'];
    const notice: Notice | null = typeof asked === 'string' && homeNotices.has(asked) ? { key: asked } : null;
    if (!p.session) return render(p, 'account/landing', 'account.landing_title', { notice });
    const overview = await account.overview(p.session);
    const has = new Set(overview.factors.map((f) => f.id));
    // One button stands out: the first offered factor that is not a device of several (a phone).
    const offered = setUpOrder.filter((f) => !has.has(f.id));
    const primary = offered.find((f) => !f.removal?.devices);
    const setUp = offered.map((f) => ({ id: f.id, labelKey: `setup.${f.id}`, primary: f === primary }));
    const factors = overview.factors.map((f) => {
      const factor = deps.factors.get(f.id);
      return { ...f, moves: factor?.enroll?.moves === true, devices: factor?.removal?.devices ? deviceWords(f.id).link : null };
    });
    render(p, 'account/home', 'account.title', { notice, factors, setUp });
  });

  router.post('/sign-in', form, async (ctx) => {
    checkForm(ctx);
    // The session this browser has now (if any) ends when the new sign-in finishes.
    const uid = await signIns.startPortal(getCookie(ctx, PORTAL_SESSION_COOKIE));
    // The browser owns this sign-in through a cookie of its own, as it owns an RP's through
    // oidc-provider's interaction cookie.
    setCookie(ctx, FLOW_COOKIE, uid, { path: `/interaction/${uid}`, maxAgeMs: 3600_000 });
    seeOther(ctx, `/interaction/${uid}`);
  });

  router.post('/sign-out', form, async (ctx) => {
    checkForm(ctx);
    await portalSessions.close(getCookie(ctx, PORTAL_SESSION_COOKIE));
    setCookie(ctx, PORTAL_SESSION_COOKIE, null, { path: '/account' });
    seeOther(ctx, '/account?notice=account.signed_out');
  });

  router.post(
    '/sign-out-everywhere',
    form,
    signedIn(async (p) => {
      await account.signOutEverywhere(p.session, who(p));
      setCookie(p.ctx, PORTAL_SESSION_COOKIE, null, { path: '/account' });
      seeOther(p.ctx, '/account?notice=account.signed_out_everywhere');
    }),
  );

  router.get(
    '/events',
    signedIn(async (p) => render(p, 'account/events', 'account.events_title', { events: await account.events(p.session) })),
  );

  // ---- setting a factor up, removing it, its devices (factor-routes.ts)

  const kit: PortalKit = { form, signedIn, anyone, render, seeOther, idParam, text, who, refusedStatus, codeMinutes: deps.codes.minutes };
  factorRoutes(router, kit, deps);

  // ---- a new password (signed in) and a forgotten one (not) (password-routes.ts)

  passwordRoutes(router, kit, deps);

  // ---- a new email address: a second factor first (email-routes.ts)

  emailChangeRoutes(router, kit, account.emailChange);

  // ---- the lost phone: the app removed with its törlőkód

  router.get('/lost-phone', async (ctx) => render(await page(ctx), 'account/lost-phone', 'account.lost_phone_title'));

  router.post('/lost-phone', form, async (ctx) => {
    const fields = checkForm(ctx);
    const p = await page(ctx);
    const done = await recovery.removeWithRecoveryCode(fields['username'], fields['password'], fields['recovery_code'], who(p));
    if (!done.ok) return render(p, 'account/lost-phone', 'account.lost_phone_title', { notice: done.notice, username: text(fields, 'username').slice(0, 200) }, refusedStatus(done));
    seeOther(ctx, '/account?notice=account.app_removed');
  });

  return router;
}
