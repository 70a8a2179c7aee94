/**
 * POST /interaction/:uid/factor — pick (or switch to) one of the account's factors.
 * POST /interaction/:uid/verify — check what the citizen typed for the current factor.
 * POST /interaction/:uid/resend — ask the current factor for a fresh challenge (new email).
 * The flow never asks which kind of factor it holds: it calls the Factor interface.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'koa';
import { AlreadyFinished, BadRequest, WrongStep } from '../errors.ts';
import { type InteractionEnv, accountFactors, factorContext, field, loadPost, redirectToFlow } from './context.ts';
import { finishSignIn } from './finish.ts';
import { renderFactor } from './show.ts';

const CODE_FIELD_MAX_LENGTH = 64;

export function chooseFactor(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['choose_factor', 'factor']);
    const wanted = field(ctx, 'factor', 32);
    const factor = (await accountFactors(step)).find((f) => f.id === wanted);
    if (!factor) throw new BadRequest('unknown_factor');
    const now = env.deps.clock.now();
    const notice = await factor.begin(await factorContext(step));
    const moved = await env.deps.repos.flows.transition(step.uid, ['choose_factor', 'factor'], { state: 'factor', factor: factor.id }, now);
    if (!moved) throw new WrongStep();
    // A refused start (the hourly code cap) is said as such: never "sent".
    if (notice?.error) return renderFactor({ ...step, flow: { ...step.flow, state: 'factor', factor: factor.id } }, notice, 429);
    redirectToFlow(step, notice);
  };
}

export function verifyFactor(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['factor']);
    const factor = env.deps.factors.get(step.flow.factor);
    if (!factor) throw new WrongStep();
    const input = field(ctx, 'code', CODE_FIELD_MAX_LENGTH);
    if (input === undefined) return renderFactor(step, { key: 'code.format', error: true }, 400);
    const fctx = await factorContext(step);
    // Counted before the check, so parallel guesses cannot slip past the limit.
    const attempt = await env.deps.throttle.factor(fctx.account.id, ctx.ip);
    if (!attempt) return renderFactor(step, { key: 'throttle.locked', error: true }, 429);
    const outcome = await factor.verify(fctx, input);
    const now = env.deps.clock.now();
    if (!outcome.ok && outcome.malformed) {
      await attempt.release();
      return renderFactor(step, { ...outcome.error, error: true }, 400);
    }
    // Lost a race with a concurrent submission of the same code, which finishes the sign-in.
    if (!outcome.ok && (outcome.usedInThisFlow || (await env.deps.repos.flows.state(step.uid)) === 'done')) {
      await attempt.release();
      await untilFinished(env, step.uid);
      throw new AlreadyFinished(step.uid);
    }
    if (!outcome.ok) {
      if (attempt.locked) {
        await env.deps.repos.audit.record({ type: 'signin.locked', accountId: fctx.account.id, ip: ctx.ip, detail: { factor: factor.id } }, now);
      }
      await env.deps.repos.audit.record(
        { type: 'signin.factor_failed', accountId: fctx.account.id, clientId: step.client.id, ip: ctx.ip, detail: { factor: factor.id, reason: outcome.error.key } },
        now,
      );
      return renderFactor(step, { ...outcome.error, error: true }, 401);
    }
    // A right answer is no failure: take back its count (on the IP too, which many share).
    await attempt.release();
    await env.deps.repos.factors.touch(fctx.account.id, factor.id, now);
    await finishSignIn(step, 'two_factor', factor.amr, factor.id);
  };
}

export function resend(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['factor']);
    const factor = env.deps.factors.get(step.flow.factor);
    if (!factor?.resend) throw new BadRequest('nothing_to_resend');
    const notice = await factor.resend(await factorContext(step));
    if (notice.error) return renderFactor(step, notice, 429);
    redirectToFlow(step, notice);
  };
}

/**
 * The winner of a double submission stores its result a moment after the code is used. The
 * loser's browser is sent to the resume URL, which must not be followed before that result
 * exists (the provider would start a new sign-in): wait for it, briefly and boundedly.
 */
async function untilFinished(env: InteractionEnv, uid: string): Promise<void> {
  for (let waited = 0; waited < 3_000; waited += 50) {
    const interaction = await env.provider.Interaction.find(uid);
    if (!interaction || interaction.result) return;
    await sleep(50);
  }
}
