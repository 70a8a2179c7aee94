/**
 * GET /interaction/:uid — renders whatever the flow's state asks for. Every POST step
 * redirects here afterwards (post/redirect/get), so reloading a page never repeats an action.
 */
import type { Context } from 'koa';
import type { Notice } from '../factors/factor.ts';
import { grantConsent, showConsent } from './consent.ts';
import { type InteractionEnv, REDIRECT_NOTICES, type Step, accountFactors, factorContext, loadStep, render } from './context.ts';

export function show(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadStep(ctx, env);
    if (step.details.prompt.name === 'consent') {
      return step.client.firstParty ? grantConsent(step) : showConsent(step);
    }
    const asked = String(ctx.query['notice']);
    const notice = REDIRECT_NOTICES.has(asked) ? { key: asked } : null;
    await renderState(step, notice);
  };
}

export async function renderState(step: Step, notice: Notice | null, status = 200): Promise<void> {
  switch (step.flow.state) {
    case 'choose_method':
    case 'done':
      return renderMethods(step, notice, status);
    case 'password':
      return renderPassword(step, notice, '', status);
    case 'choose_factor':
      return renderFactorChoice(step, notice, status);
    case 'factor':
      return renderFactor(step, notice, status);
    case 'upgrade':
      return render(step, 'upgrade', { titleKey: 'upgrade.title', reasonKey: upgradeReason(step) }, status);
  }
}

export function renderMethods(step: Step, notice: Notice | null, status = 200): void {
  const { deps, acr } = step.env;
  const methods: Array<{ id: string; labelKey: string; legacy?: boolean; hint?: string }> = deps.factors
    .all()
    .map((f) => ({ id: f.id, labelKey: f.labelKey }));
  // Password-only sign-in is offered while the cut-off allows it and the RP accepts it.
  if (acr.legacyAllowed(deps.clock.now()) && step.need === 'password') {
    const until = acr.legacyUntil;
    const t = deps.views.translator(step.lang);
    methods.push({
      id: 'legacy',
      labelKey: 'method.legacy',
      legacy: true,
      hint: until ? t('method.legacy_hint', { date: until.toISOString().slice(0, 10) }) : t('method.legacy_hint_open'),
    });
  }
  render(step, 'method', { titleKey: 'method.title', methods, notice }, status);
}

export function methodLabelKey(step: Step, method: string | null): string {
  return step.env.deps.factors.get(method)?.labelKey ?? 'method.legacy';
}

export function renderPassword(step: Step, notice: Notice | null, username: string, status = 200): void {
  render(step, 'password', { titleKey: 'password.title', methodLabelKey: methodLabelKey(step, step.flow.method), username, notice }, status);
}

async function renderFactorChoice(step: Step, notice: Notice | null, status: number): Promise<void> {
  const factors = await accountFactors(step);
  const chosenMissing = step.flow.method !== 'legacy' && !factors.some((f) => f.id === step.flow.method);
  render(
    step,
    'factor-choice',
    {
      titleKey: 'factor.choose_title',
      introKey: chosenMissing ? 'factor.choose_intro' : 'factor.choose_intro_plain',
      factors: factors.map((f) => ({ id: f.id, labelKey: f.labelKey })),
      notice,
    },
    status,
  );
}

export async function renderFactor(step: Step, notice: Notice | null, status = 200): Promise<void> {
  const factor = step.env.deps.factors.get(step.flow.factor);
  const fctx = await factorContext(step);
  if (!factor) return renderFactorChoice(step, notice, status);
  const page = await factor.page(fctx);
  const others = (await accountFactors(step)).filter((f) => f.id !== factor.id);
  render(
    step,
    'factor',
    {
      titleKey: factor.labelKey,
      factorTitleKey: factor.labelKey,
      factorTemplate: page.template,
      factor: page.data,
      canResend: factor.resend !== null,
      others: others.map((f) => ({ id: f.id, labelKey: f.labelKey })),
      notice: notice ?? page.notice ?? null,
    },
    status,
  );
}

function upgradeReason(step: Step): string {
  if (step.need === 'two_factor') return 'upgrade.body_required';
  if (step.flow.method !== 'legacy') return 'upgrade.body_not_enrolled';
  return 'upgrade.body_cutoff';
}
