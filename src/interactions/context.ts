/**
 * What every interaction step starts from: the provider's interaction (which also proves the
 * browser owns it, through its cookie), kapu's flow state for it, the language, the CSRF token
 * and the level this sign-in must reach.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import type { FlowState, LoginFlow } from '../db/repositories/login-flows.ts';
import { AlreadyFinished, CsrfFailed, SessionExpired, WrongStep } from '../errors.ts';
import type { Factor, FactorContext, Notice } from '../factors/factor.ts';
import { type Level, AcrPolicy } from '../oidc/acr.ts';
import { INTERACTION_TTL_SECONDS, isFirstParty } from '../oidc/provider.ts';
import { originOf, renderPage, resolveLang } from '../http/page.ts';
import type { Lang } from '../views.ts';

export interface InteractionEnv {
  deps: Deps;
  provider: Provider;
  acr: AcrPolicy;
}

export function interactionEnv(deps: Deps, provider: Provider): InteractionEnv {
  return { deps, provider, acr: new AcrPolicy(deps.config.acr, deps.config.legacyLoginUntil) };
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface Step {
  ctx: Context;
  env: InteractionEnv;
  uid: string;
  details: Details;
  flow: LoginFlow;
  lang: Lang;
  csrf: string;
  /** firstParty: a registered government RP, granted without a consent screen. */
  client: { id: string; name: string | null; formTargets: string[]; firstParty: boolean };
  need: Level;
}

export async function loadStep(ctx: Context, env: InteractionEnv): Promise<Step> {
  let details: Details;
  try {
    details = await env.provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    throw new SessionExpired(err);
  }
  if (details.uid !== ctx.params['uid']) throw new SessionExpired();
  const { deps } = env;
  const now = deps.clock.now();
  const flow = await deps.repos.flows.open(details.uid, now, new Date(now.getTime() + INTERACTION_TTL_SECONDS * 1000));
  const params = details.params as Record<string, string | undefined>;
  const client = await env.provider.Client.find(params['client_id'] ?? '');
  if (!client) throw new SessionExpired();
  ctx.state['interactionUid'] = details.uid;
  if (flow.accountId) ctx.state['accountId'] = flow.accountId;
  return {
    ctx,
    env,
    uid: details.uid,
    details,
    flow,
    lang: resolveLang(ctx, params['ui_locales']),
    csrf: deps.box.mac('csrf', details.uid),
    client: {
      id: client.clientId,
      name: client.clientName ?? null,
      formTargets: originOf(params['redirect_uri']),
      firstParty: isFirstParty(client),
    },
    need: env.acr.required(params['acr_values'], client['min_acr' as never]),
  };
}

/** Loads the step for a form POST: checks the CSRF token and the flow's state. */
export async function loadPost(ctx: Context, env: InteractionEnv, expected: FlowState[]): Promise<Step> {
  const step = await loadStep(ctx, env);
  const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
  const token = Buffer.from(typeof body['csrf'] === 'string' ? body['csrf'] : '');
  // Any configured key's token is good: pages served before a key rotation still submit.
  const valid = env.deps.box.macs('csrf', step.uid).some((expected) => {
    const b = Buffer.from(expected);
    return token.length === b.length && timingSafeEqual(token, b);
  });
  if (!valid) throw new CsrfFailed();
  if (step.flow.state === 'done' && !expected.includes('done')) throw new AlreadyFinished(step.uid);
  if (!expected.includes(step.flow.state)) throw new WrongStep();
  return step;
}

/** A form field as a bounded string; undefined when missing or of the wrong type. */
export function field(ctx: Context, name: string, maxLength: number): string | undefined {
  const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
  const value = body[name];
  if (typeof value !== 'string' || value.length > maxLength) return undefined;
  return value;
}

export function render(step: Step, template: string, data: Record<string, unknown>, status = 200): void {
  renderPage(
    step.ctx,
    step.env.deps.views,
    template,
    { uid: step.uid, csrf: step.csrf, client: step.client.name ?? step.client.id, notice: null, ...data },
    { lang: step.lang, status, formTargets: step.client.formTargets },
  );
}

/**
 * Notices a redirect may carry (?notice=…): informational messages a factor returns, from a
 * fixed list — never free text from the URL, never an error (errors are rendered directly).
 */
export const REDIRECT_NOTICES = new Set(['email.sent', 'email.resent']);

/** Post/redirect/get: back to the interaction page, which renders the flow's state. */
export function redirectToFlow(step: Step, notice?: Notice | null): void {
  const carried = notice && !notice.error && REDIRECT_NOTICES.has(notice.key) ? `?notice=${encodeURIComponent(notice.key)}` : '';
  step.ctx.status = 303;
  step.ctx.redirect(`/interaction/${step.uid}${carried}`);
}

export async function accountOf(step: Step) {
  if (!step.flow.accountId) throw new WrongStep();
  const account = await step.env.deps.repos.accounts.findById(step.flow.accountId);
  if (!account) throw new SessionExpired();
  return account;
}

export async function factorContext(step: Step): Promise<FactorContext> {
  const account = await accountOf(step);
  return { flowId: step.uid, account, lang: step.lang };
}

/** The factors this flow's account has. */
export async function accountFactors(step: Step): Promise<Factor[]> {
  if (!step.flow.accountId) return [];
  const kinds = await step.env.deps.repos.factors.kinds(step.flow.accountId);
  return step.env.deps.factors.pick(kinds);
}

export type { Notice };
