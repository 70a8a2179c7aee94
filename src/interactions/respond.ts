/**
 * The one place where an outcome of the sign-in core becomes an HTTP response: its status, the
 * page that shows it, or where the browser goes next. Handlers never pick a status themselves.
 */
import type { Context } from 'koa';
import type { Outcome, Shown } from '../auth/outcomes.ts';
import type { Refusal } from '../auth/result.ts';
import type { SignInPage, UpgradeReason } from '../auth/pages.ts';
import { BadRequest, SessionExpired, WrongStep } from '../errors.ts';
import type { Notice } from '../factors/factor.ts';
import { showConsent } from './consent.ts';
import { PORTAL_SESSION_COOKIE, getCookie, rememberDevice, setCookie } from '../http/cookies.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { renderPage, resolveLang } from '../http/page.ts';
import { rememberEnding } from './ended.ts';
import { renderSignInPage, seeOther } from './render.ts';
import type { InteractionEnv } from './request.ts';

/**
 * Notices a redirect may carry (?notice=…): informational messages from a fixed list — never
 * free text from the URL, never an error (errors are rendered directly, with their status).
 */
const REDIRECT_NOTICES = new Set(['email.sent', 'email.resent']);

export async function respond(ctx: Context, env: InteractionEnv, outcome: Outcome): Promise<void> {
  switch (outcome.kind) {
    case 'show':
      return renderSignIn(ctx, env, outcome.shown, outcome.notice, 200);
    case 'refused':
      // Post/redirect/get: the refusal is said on the step's own page (its address can be
      // reloaded or bookmarked), carried there once in a short-lived cookie of this sign-in.
      if (ctx.method !== 'POST') return renderSignIn(ctx, env, outcome.shown, outcome.notice, REFUSAL_STATUS[outcome.refusal]);
      keepRefusal(ctx, outcome);
      return seeOther(ctx, `/interaction/${outcome.shown.uid}`);
    case 'advanced': {
      const carried = outcome.notice && !outcome.notice.error && REDIRECT_NOTICES.has(outcome.notice.key) ? `?notice=${encodeURIComponent(outcome.notice.key)}` : '';
      return seeOther(ctx, `/interaction/${outcome.uid}${carried}`);
    }
    case 'finished':
      if (outcome.accountId) {
        ctx.state['accountId'] = outcome.accountId;
        // This browser is now known to the account: strangers' guesses never lock it out.
        rememberDevice(ctx, outcome.accountId, () => env.deps.random.bytes(18).toString('base64url'));
      }
      if (typeof ctx.state['interactionUid'] === 'string') rememberEnding(ctx, ctx.state['interactionUid'], 'done');
      if (outcome.portalSession) setCookie(ctx, PORTAL_SESSION_COOKIE, outcome.portalSession.token, { path: '/account', expires: outcome.portalSession.expiresAt });
      // A törlőkód made while setting the app up inline is shown once, before going on.
      if (outcome.shownOnce) return renderShownOnce(ctx, env, outcome.shownOnce, outcome.returnTo);
      return seeOther(ctx, outcome.returnTo);
    case 'already_finished':
      // Not a failure: the browser resumes where the sign-in ended, which completes it once.
      return seeOther(ctx, `/auth/${outcome.uid}`);
    case 'consent':
      return showConsent(ctx, env, outcome.uid);
    case 'bad_request':
      throw new BadRequest(outcome.code);
    case 'wrong_step':
      throw new WrongStep();
    case 'expired':
      throw new SessionExpired();
  }
}

function renderShownOnce(ctx: Context, env: InteractionEnv, shownOnce: Record<string, string>, next: string): void {
  renderPage(ctx, env.deps.views, 'recovery-code', { titleKey: 'recovery.title', recoveryCode: shownOnce['recoveryCode'], next }, { lang: resolveLang(ctx) });
}

/** A refusal on its way to the page that says it: its notice, status and the username typed (never a password). */
interface KeptRefusal {
  refusal: Refusal;
  notice: Notice;
  username?: string;
}

const REFUSED_COOKIE = 'kapu_refused';
const REFUSED_MAX_AGE_MS = 60_000;

function keepRefusal(ctx: Context, outcome: Extract<Outcome, { kind: 'refused' }>): void {
  const page = outcome.shown.page;
  const kept: KeptRefusal = { refusal: outcome.refusal, notice: outcome.notice, ...(page.state === 'password' && page.username && { username: page.username }) };
  setCookie(ctx, REFUSED_COOKIE, Buffer.from(JSON.stringify(kept)).toString('base64url'), { path: `/interaction/${outcome.shown.uid}`, maxAgeMs: REFUSED_MAX_AGE_MS });
}

/**
 * The refusal the last POST of this sign-in left for its page, read once. It only ever holds
 * what kapu wrote (the cookie is signed); anything else is ignored.
 */
export function takeRefusal(ctx: Context, uid: string): KeptRefusal | null {
  const raw = getCookie(ctx, REFUSED_COOKIE);
  if (raw === undefined) return null;
  setCookie(ctx, REFUSED_COOKIE, null, { path: `/interaction/${uid}` });
  try {
    const kept = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as KeptRefusal;
    return kept && typeof kept.notice?.key === 'string' && kept.refusal in REFUSAL_STATUS ? kept : null;
  } catch {
    return null;
  }
}

/** The current page of a sign-in, saying the refusal a POST left for it, with that refusal's status. */
export async function respondAfterRefusal(ctx: Context, env: InteractionEnv, outcome: Outcome, kept: KeptRefusal): Promise<void> {
  if (outcome.kind !== 'show') return respond(ctx, env, outcome);
  const page = outcome.shown.page.state === 'password' && kept.username ? { ...outcome.shown.page, username: kept.username } : outcome.shown.page;
  return renderSignIn(ctx, env, { ...outcome.shown, page }, { ...kept.notice, error: true }, REFUSAL_STATUS[kept.refusal]);
}

/** The notice a GET brings over a redirect, if it is one of those a redirect may carry. */
export function carriedNotice(ctx: Context): Notice | null {
  const asked = ctx.query['notice'];
  return typeof asked === 'string' && REDIRECT_NOTICES.has(asked) ? { key: asked } : null;
}

/** The last day password-only sign-in is allowed: the cut-off is 00:00 Hungarian time of the day after. */
function lastDayBefore(cutoff: Date): Date {
  return new Date(cutoff.getTime() - 60_000);
}

const UPGRADE_REASON_KEYS: Record<UpgradeReason, string> = {
  required: 'upgrade.body_required',
  not_enrolled: 'upgrade.body_not_enrolled',
  cutoff: 'upgrade.body_cutoff',
};

/** The sign-in page for the flow's state. */
function renderSignIn(ctx: Context, env: InteractionEnv, shown: Shown, notice: Notice | null, status: number): void {
  if (shown.accountId) ctx.state['accountId'] = shown.accountId;
  const { template, data } = pageView(env, shown, shown.page, notice);
  renderSignInPage(ctx, env, shown, template, data, status);
}

function pageView(env: InteractionEnv, shown: Shown, page: SignInPage, notice: Notice | null): { template: string; data: Record<string, unknown> } {
  switch (page.state) {
    case 'choose_method': {
      const t = env.deps.views.translator(shown.lang);
      const date = env.deps.views.date(shown.lang);
      const ended = page.legacyEnded;
      const methods = page.methods.map((m) => ({
        id: m.id,
        labelKey: m.labelKey,
        ...(m.needs && { needs: m.needs }),
        legacy: m.legacy !== undefined,
        hint: m.legacy ? (m.legacy.until ? t('method.legacy_hint', { date: date(lastDayBefore(m.legacy.until)) }) : t('method.legacy_hint_open')) : m.id === ended?.setUp.id ? t('method.set_up_hint') : undefined,
      }));
      const legacyEnded = ended && t('method.legacy_ended', { date: date(ended.since), setUp: t(ended.setUp.labelKey) });
      return { template: 'method', data: { titleKey: 'method.title', methods, legacyEnded, notice } };
    }
    case 'password':
      return { template: 'password', data: { titleKey: 'password.title', methodLabelKey: page.method.labelKey, username: page.username, notice } };
    case 'choose_factor':
      return {
        template: 'factor-choice',
        data: { titleKey: 'factor.choose_title', introKey: page.chosenMissing ? 'factor.choose_intro' : 'factor.choose_intro_plain', factors: page.factors, notice },
      };
    case 'factor': {
      // "Bejelentkezés – e-mailes kód": where the citizen is; a factor without words of its own gets its name.
      const stepKey = `step.${page.factor.id}`;
      const t = env.deps.views.translator(shown.lang);
      // Advice that names another method (`<key>_alone` without it) where the account has none.
      const said = notice ?? page.view.notice ?? null;
      const alone = said && page.others.length === 0 && env.deps.views.has(`${said.key}_alone`) ? { ...said, key: `${said.key}_alone` } : said;
      return {
        template: 'factor',
        data: {
          title: env.deps.views.has(stepKey) ? t(stepKey) : t('step.factor', { factor: t(page.factor.labelKey) }),
          factorTemplate: page.view.template,
          factor: page.view.data,
          canResend: page.canResend,
          others: page.others,
          guarded: page.guarded === true,
          withPassword: page.withPassword === true,
          notice: alone,
          scripts: page.view.scripts === true,
        },
      };
    }
    case 'upgrade':
      return {
        template: 'upgrade',
        data: { titleKey: 'upgrade.title', reasonKey: UPGRADE_REASON_KEYS[page.reason], setUp: page.setUp, passwordOnly: page.passwordOnly, notice },
      };
    case 'enroll':
      return {
        template: 'enroll',
        data: { titleKey: 'enroll.title', factor: page.factor, enrollTemplate: page.view.template, view: page.view.data, canResend: page.canResend, notice: notice ?? page.view.notice ?? null },
      };
  }
}
