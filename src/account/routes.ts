/**
 * The account portal under /account (SPEC §2): thin adapters over the core (src/auth/account.ts,
 * recovery.ts, and the sign-in core for signing in). Each route checks the form's CSRF token,
 * hands the form to one call of the core, and renders a page or sends the browser on (every
 * change is a POST answered by a redirect, except a törlőkód, which is shown once).
 */
import { timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Done, Who } from '../auth/account.ts';
import type { PortalSession } from '../auth/portal-sessions.ts';
import type { Deps } from '../deps.ts';
import { CsrfFailed, NotFound } from '../errors.ts';
import type { FormFields, Notice } from '../factors/factor.ts';
import { formBody } from '../http/body.ts';
import { browserOf } from '../http/browser.ts';
import { FLOW_COOKIE, PORTAL_SESSION_COOKIE, getCookie, rememberDevice, setCookie } from '../http/cookies.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { emailChangeRoutes } from './email-routes.ts';
import type { Page } from './kit.ts';

/** A per-browser random value; the forms' CSRF token is its keyed hash. */
const FORM_COOKIE = 'kapu_form';
/** A refusal on its way from a form's POST to the GET of the same page (post/redirect/get). */
const REFUSED_COOKIE = 'kapu_account_refused';
/** Typed values a refused page shows again. */
const KEPT_FIELDS = ['email', 'username'];
const ID = /^[0-9a-f-]{36}$/;
const FACTORS = ['email', 'totp', 'dap'];

/** Messages a redirect to /account may carry (?notice=…), from this fixed list only. */
const HOME_NOTICES = new Set([
  'account.signed_out',
  'account.session_over',
  'account.enrolled_email',
  'account.enrolled_totp',
  'account.factor_removed',
  'account.password_changed',
  'account.password_reset',
  'account.email_changed',
  'account.signed_out_everywhere',
  'account.app_removed',
  'account.enrolled_dap',
  'account.device_removed',
  // A setup's form sent again after it was confirmed (reloading the törlőkód page).
  'account.enrolled_email_before',
  'account.enrolled_totp_before',
  'account.enrolled_dap_before',
]);

export function accountRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/account' });
  const form = formBody();
  const { account, recovery, signIns, portalSessions } = deps;

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

  function refusedStatus(done: Extract<Done, { ok: false }>): number {
    return REFUSAL_STATUS[done.refusal];
  }

  const idParam = (ctx: Context): string => {
    const id = ctx.params['id'];
    if (typeof id !== 'string' || !ID.test(id)) throw new NotFound();
    return id;
  };
  const factorParam = (ctx: Context): string => {
    const factor = ctx.params['factor'];
    if (typeof factor !== 'string' || !FACTORS.includes(factor)) throw new NotFound();
    return factor;
  };
  const text = (fields: FormFields, name: string): string => (typeof fields[name] === 'string' ? (fields[name] as string) : '');
  /** Setting up a factor the account has moves it ("Beállítás másik eszközre"), unless an account holds several. */
  const moving = (p: Page & { session: PortalSession }, factor: string): boolean => p.session.account.factorKinds.includes(factor) && !deps.factors.get(factor)?.several;
  const setUpTitle = (factor: string, move: boolean): string => (move ? 'setup.move' : `setup.${factor}`);

  // ---- the front page, signing in and out

  router.get('/', async (ctx) => {
    const p = await page(ctx);
    const asked = ctx.query['notice'];
    const notice: Notice | null = typeof asked === 'string' && HOME_NOTICES.has(asked) ? { key: asked } : null;
    if (!p.session) return render(p, 'account/landing', 'account.landing_title', { notice });
    const overview = await account.overview(p.session);
    render(p, 'account/home', 'account.title', { notice, factors: overview.factors, has: Object.fromEntries(overview.factors.map((f) => [f.id, true])) });
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

  // ---- setting a factor up: the password again, then the factor's own proof

  router.get(
    '/setup/:factor',
    signedIn(async (p) => {
      const factor = factorParam(p.ctx);
      const notice = p.ctx.query['expired'] === '1' ? { key: 'enroll.expired', error: true } : null;
      const move = moving(p, factor);
      render(p, 'account/setup-start', setUpTitle(factor, move), { factor, notice, moving: move });
    }),
  );

  router.post(
    '/setup/:factor',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const begun = await account.beginSetUp(p.session, factor, text(fields, 'password'), who(p));
      if (!begun.ok) {
        const move = moving(p, factor);
        return render(p, 'account/setup-start', setUpTitle(factor, move), { factor, notice: begun.notice, moving: move }, REFUSAL_STATUS[begun.refusal]);
      }
      seeOther(p.ctx, `/account/setup/${factor}/${begun.enrollmentId}`);
    }),
  );

  async function renderSetUp(p: Page & { session: PortalSession }, factor: string, id: string, notice: Notice | null, status = 200): Promise<void> {
    const shown = await account.setUpPage(p.session, id, p.lang);
    if (!shown || shown.factor.id !== factor) return seeOther(p.ctx, `/account/setup/${factor}?expired=1`);
    const move = moving(p, factor);
    render(p, 'account/setup', setUpTitle(factor, move), { factor, id, moving: move, view: shown.view.data, enrollTemplate: shown.view.template, canResend: shown.canResend, notice: notice ?? shown.view.notice ?? null }, status, true);
  }

  router.get(
    '/setup/:factor/:id',
    signedIn(async (p) => {
      const asked = p.ctx.query['notice'];
      const notice = asked === 'email.sent' || asked === 'email.resent' ? { key: asked } : null;
      await renderSetUp(p, factorParam(p.ctx), idParam(p.ctx), notice);
    }),
  );

  router.post(
    '/setup/:factor/:id',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const confirmed = await account.confirmSetUp(p.session, id, fields, who(p));
      if (!confirmed.ok) {
        if (confirmed.refusal === 'done') return seeOther(p.ctx, `/account?notice=account.enrolled_${factor}_before`);
        if (confirmed.refusal === 'expired') return seeOther(p.ctx, `/account/setup/${factor}?expired=1`);
        return renderSetUp(p, factor, id, confirmed.notice, REFUSAL_STATUS[confirmed.refusal]);
      }
      // The app's törlőkód is shown now, once: it is stored only as a hash.
      if (confirmed.shownOnce?.['recoveryCode']) {
        return render(p, 'recovery-code', 'recovery.title', { recoveryCode: confirmed.shownOnce['recoveryCode'], next: '/account?notice=account.enrolled_totp' });
      }
      seeOther(p.ctx, `/account?notice=account.enrolled_${factor}`);
    }),
  );

  router.post(
    '/setup/:factor/:id/resend',
    form,
    signedIn(async (p) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const notice = await account.resendSetUp(p.session, id, who(p));
      if (!notice) return seeOther(p.ctx, `/account/setup/${factor}?expired=1`);
      if (notice.error) return renderSetUp(p, factor, id, notice, REFUSAL_STATUS.rate_limited);
      seeOther(p.ctx, `/account/setup/${factor}/${id}?notice=${notice.key}`);
    }),
  );

  // ---- removing a factor

  router.get(
    '/remove/:factor',
    signedIn(async (p) => render(p, 'account/remove', 'account.remove_title', { factor: factorParam(p.ctx) })),
  );

  router.post(
    '/remove/:factor',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const done = await account.removeFactor(p.session, factor, text(fields, 'password'), who(p));
      if (!done.ok) return render(p, 'account/remove', 'account.remove_title', { factor, notice: done.notice }, refusedStatus(done));
      seeOther(p.ctx, '/account?notice=account.factor_removed');
    }),
  );

  // ---- the DÁP app's phones: listed, removed one by one (the password again)

  router.get(
    '/devices',
    signedIn(async (p) => render(p, 'account/devices', 'account.devices_title', { devices: await account.devices(p.session) })),
  );

  router.post(
    '/devices/:id/remove',
    form,
    signedIn(async (p, fields) => {
      const done = await account.removeDevice(p.session, idParam(p.ctx), text(fields, 'password'), who(p));
      if (!done.ok) return render(p, 'account/devices', 'account.devices_title', { devices: await account.devices(p.session), notice: done.notice }, refusedStatus(done));
      seeOther(p.ctx, '/account?notice=account.device_removed');
    }),
  );

  // ---- a new password (signed in) and a forgotten one (not)

  router.get(
    '/password',
    signedIn(async (p) => render(p, 'account/password', 'account.password_title')),
  );

  router.post(
    '/password',
    form,
    signedIn(async (p, fields) => {
      const begun = await account.beginPasswordChange(p.session, text(fields, 'current'), who(p));
      if (!begun.ok) return render(p, 'account/password', 'account.password_title', { notice: begun.notice }, refusedStatus(begun));
      seeOther(p.ctx, `/account/password/${begun.changeId}`);
    }),
  );

  async function renderNewPassword(p: Page, id: string, notice: Notice | null, status = 200, reset = false): Promise<void> {
    const change = reset ? null : await account.passwordChange(id);
    if (!reset && !change) return seeOther(p.ctx, '/account/password');
    // A forgotten password's page asks for what any account might need: it tells nothing.
    const proof = change?.proof ?? ['email', 'app'];
    // The munkamenet-azonosító its code mail quotes (a forgotten password's shows one for any username).
    const tag = proof.includes('email') ? recovery.resetTag(id) : null;
    render(p, 'account/password-new', reset ? 'account.reset_title' : 'account.password_title', { id, proof, reset, tag, notice }, status);
  }

  router.get(
    '/password/:id',
    signedIn(async (p) => renderNewPassword(p, idParam(p.ctx), null)),
  );

  router.post(
    '/password/:id',
    form,
    signedIn(async (p, fields) => {
      const id = idParam(p.ctx);
      const done = await account.completePasswordChange(id, fields, who(p), p.session);
      if (!done.ok) return renderNewPassword(p, id, done.notice, refusedStatus(done));
      seeOther(p.ctx, '/account?notice=account.password_changed');
    }),
  );

  router.get('/reset', async (ctx) => render(await page(ctx), 'account/reset', 'account.reset_title'));

  router.post('/reset', form, async (ctx) => {
    const fields = checkForm(ctx);
    const p = await page(ctx);
    const begun = await recovery.beginReset(fields['username'], who(p));
    if (!begun.ok) return render(p, 'account/reset', 'account.reset_title', { notice: begun.notice }, refusedStatus(begun));
    seeOther(ctx, `/account/reset/${begun.changeId}`);
  });

  router.get('/reset/:id', async (ctx) => renderNewPassword(await page(ctx), idParam(ctx), { key: 'account.reset_sent', vars: { minutes: deps.codes.minutes } }, 200, true));

  router.post('/reset/:id', form, async (ctx) => {
    const fields = checkForm(ctx);
    const p = await page(ctx);
    const id = idParam(ctx);
    const done = await recovery.completeReset(id, fields, who(p));
    if (!done.ok) return renderNewPassword(p, id, done.notice, refusedStatus(done), true);
    // The browser that proved the mailbox is the citizen's: strangers' failures never lock it out.
    rememberDevice(ctx, done.accountId, () => deps.random.bytes(18).toString('base64url'));
    seeOther(ctx, '/account?notice=account.password_reset');
  });

  // ---- a new email address: a second factor first (email-routes.ts)

  emailChangeRoutes(router, { form, signedIn, render, seeOther, idParam, text, who, codeMinutes: deps.codes.minutes }, account.emailChange);

  // ---- the lost phone: the app removed with its törlőkód

  router.get('/lost-phone', async (ctx) => render(await page(ctx), 'account/lost-phone', 'account.lost_phone_title'));

  router.post('/lost-phone', form, async (ctx) => {
    const fields = checkForm(ctx);
    const p = await page(ctx);
    const done = await recovery.removeAppWithRecoveryCode(fields['username'], fields['password'], fields['recovery_code'], who(p));
    if (!done.ok) return render(p, 'account/lost-phone', 'account.lost_phone_title', { notice: done.notice, username: text(fields, 'username').slice(0, 200) }, refusedStatus(done));
    seeOther(ctx, '/account?notice=account.app_removed');
  });

  return router;
}
