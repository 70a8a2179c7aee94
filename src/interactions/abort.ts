/** POST /interaction/:uid/abort — the citizen cancels; the RP gets an OAuth error back. */
import type { Context } from 'koa';
import { type InteractionEnv, loadPost } from './context.ts';
import { abortSignIn } from './finish.ts';

export function abort(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['choose_method', 'password', 'choose_factor', 'factor', 'upgrade', 'done']);
    if (step.flow.state === 'upgrade') {
      // OpenID Connect's error for "the citizen cannot reach the level you asked for".
      return abortSignIn(step, 'unmet_authentication_requirements', 'the account has no second factor');
    }
    await abortSignIn(step, 'access_denied', 'the citizen cancelled the sign-in');
  };
}
