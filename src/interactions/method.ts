/** POST /interaction/:uid/method — the citizen picked a sign-in method; next: the password. */
import type { Context } from 'koa';
import { BadRequest, WrongStep } from '../errors.ts';
import { type InteractionEnv, field, loadPost, redirectToFlow } from './context.ts';

export const LEGACY_METHOD = 'legacy';

export function chooseMethod(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['choose_method']);
    const method = field(ctx, 'method', 32);
    const known = method === LEGACY_METHOD || env.deps.factors.get(method) !== undefined;
    if (!method || !known) throw new BadRequest('unknown_method');
    const moved = await env.deps.repos.flows.transition(step.uid, ['choose_method'], { state: 'password', method }, env.deps.clock.now());
    if (!moved) throw new WrongStep();
    redirectToFlow(step);
  };
}

/** POST /interaction/:uid/restart — back from the password step to the method chooser. */
export function restart(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['password']);
    await env.deps.repos.flows.transition(step.uid, ['password'], { state: 'choose_method', method: null }, env.deps.clock.now());
    redirectToFlow(step);
  };
}
