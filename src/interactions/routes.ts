/** The sign-in pages under /interaction/:uid: one route per step, one file per step. */
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { formBody } from '../http/body.ts';
import { abort } from './abort.ts';
import { consent } from './consent.ts';
import { interactionEnv } from './context.ts';
import { chooseFactor, resend, verifyFactor } from './factor.ts';
import { chooseMethod, restart } from './method.ts';
import { submitPassword } from './password.ts';
import { show } from './show.ts';

export function interactionRoutes(deps: Deps, provider: Provider): Router {
  const env = interactionEnv(deps, provider);
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = formBody();
  router.get('/', show(env));
  router.post('/method', form, chooseMethod(env));
  router.post('/restart', form, restart(env));
  router.post('/password', form, submitPassword(env));
  router.post('/factor', form, chooseFactor(env));
  router.post('/verify', form, verifyFactor(env));
  router.post('/resend', form, resend(env));
  router.post('/consent', form, consent(env));
  router.post('/abort', form, abort(env));
  return router;
}
