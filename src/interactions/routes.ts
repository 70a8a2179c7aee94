/**
 * The sign-in pages under /interaction/:uid. Each route is a thin adapter: it checks that the
 * browser owns the interaction (and, for a form, its CSRF token), hands the form to one step of
 * the sign-in core, and turns the outcome into a response (respond.ts).
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Outcome } from '../auth/outcomes.ts';
import type { SignInService } from '../auth/sign-in.ts';
import type { Who } from '../auth/who.ts';
import type { Deps } from '../deps.ts';
import type { FormFields } from '../factors/factor.ts';
import { formBody } from '../http/body.ts';
import { grantConsent } from './consent.ts';
import { explainEnded, rememberEnding } from './ended.ts';
import { type InteractionEnv, checkedForm, ownedInteraction, requester } from './request.ts';
import { carriedNotice, respond, respondAfterRefusal, takeRefusal } from './respond.ts';
import { unlockPages } from './unlock.ts';

type Step = (signIns: SignInService, uid: string, who: Who, form: FormFields) => Promise<Outcome>;

export function interactionRoutes(deps: Deps, provider: Provider): Router {
  const env: InteractionEnv = { deps, provider };
  const { signIns } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = formBody();
  router.use(explainEnded(env));

  /** A form step: owned interaction, CSRF, then the core. */
  const post = (step: Step) => async (ctx: Context) => {
    const uid = ownedInteraction(ctx, env);
    const fields = checkedForm(ctx, env, uid);
    await respond(ctx, env, await step(signIns, uid, requester(ctx), fields));
  };

  router.get('/', async (ctx) => {
    const uid = ownedInteraction(ctx, env);
    const refused = takeRefusal(ctx, uid);
    const outcome = await signIns.show(uid, requester(ctx), refused ? null : carriedNotice(ctx));
    await (refused ? respondAfterRefusal(ctx, env, outcome, refused) : respond(ctx, env, outcome));
  });
  router.post('/method', form, post((s, uid, who, f) => s.chooseMethod(uid, who, f['method'])));
  router.post('/restart', form, post((s, uid, who) => s.restart(uid, who)));
  router.post('/password', form, post((s, uid, who, f) => s.password(uid, who, f)));
  router.post('/factor', form, post((s, uid, who, f) => s.chooseFactor(uid, who, f['factor'])));
  router.post('/verify', form, post((s, uid, who, f) => s.verify(uid, who, f)));
  router.post('/resend', form, post((s, uid, who) => s.resend(uid, who)));
  router.post('/setup', form, post((s, uid, who, f) => s.setUp(uid, who, f['factor'])));
  router.post('/continue', form, post((s, uid, who) => s.continueWithPassword(uid, who)));
  router.post('/with-password', form, post((s, uid, who) => s.usePassword(uid, who)));
  // Locked out by strangers' failures: a mailed link lets this browser in (src/interactions/unlock.ts).
  const unlock = unlockPages(env);
  router.get('/unlock', unlock.show);
  router.post('/unlock', form, unlock.ask);
  router.post('/abort', form, async (ctx) => {
    await post((s, uid, who) => s.abort(uid, who))(ctx);
    // Back on one of its pages later, the citizen is told they cancelled (not that it "expired").
    if (ctx.status === 303) rememberEnding(ctx, ownedInteraction(ctx, env), 'cancelled');
  });
  router.post('/consent', form, async (ctx) => {
    const uid = ownedInteraction(ctx, env);
    checkedForm(ctx, env, uid);
    const outcome = await signIns.consent(uid, requester(ctx));
    // The citizen pressed "allow": the grant is made here, not shown again.
    await (outcome.kind === 'consent' ? grantConsent(ctx, env) : respond(ctx, env, outcome));
  });
  router.get('/status', async (ctx) => {
    const uid = ownedInteraction(ctx, env);
    const outcome = await signIns.status(uid, requester(ctx));
    ctx.set('Cache-Control', 'no-store');
    if (outcome.kind === 'expired') return respond(ctx, env, outcome);
    ctx.body = { status: outcome.status };
  });
  return router;
}
