/**
 * The one place a sign-in is finished: the flow moves to `done` exactly once (a second,
 * concurrent finisher is sent to the resume URL: AlreadyFinished), and the provider gets
 * accountId, acr and amr.
 */
import { AlreadyFinished, WrongStep } from '../errors.ts';
import { amrFor, type Level } from '../oidc/acr.ts';
import type { Step } from './context.ts';

export async function finishSignIn(step: Step, level: Level, factorAmr: string | null, factorId: string | null): Promise<void> {
  const { deps, provider, acr } = step.env;
  const accountId = step.flow.accountId;
  if (!accountId) throw new WrongStep();
  const now = deps.clock.now();
  if (!(await deps.repos.flows.transition(step.uid, [step.flow.state], { state: 'done' }, now))) {
    throw (await deps.repos.flows.state(step.uid)) === 'done' ? new AlreadyFinished(step.uid) : new WrongStep();
  }
  const account = await deps.repos.accounts.findById(accountId);
  // A password-only sign-in proves nothing about the second factor: its count stays.
  if (account) await deps.throttle.succeeded(account.username, factorId ? accountId : null);
  await deps.repos.audit.record(
    { type: 'signin.succeeded', accountId, clientId: step.client.id, ip: step.ctx.ip, detail: { method: factorId ?? 'password', acr: acr.acrOf(level) } },
    now,
  );
  const redirectTo = await provider.interactionResult(
    step.ctx.req,
    step.ctx.res,
    { login: { accountId, acr: acr.acrOf(level), amr: amrFor(factorAmr), remember: false } },
    { mergeWithLastSubmission: false },
  );
  step.ctx.status = 303;
  step.ctx.redirect(redirectTo);
}

/** Ends the interaction without signing in; the RP receives `error`. */
export async function abortSignIn(step: Step, error: string, description: string): Promise<void> {
  const { deps, provider } = step.env;
  await deps.repos.audit.record(
    { type: 'signin.aborted', accountId: step.flow.accountId, clientId: step.client.id, ip: step.ctx.ip, detail: { error } },
    deps.clock.now(),
  );
  const redirectTo = await provider.interactionResult(
    step.ctx.req,
    step.ctx.res,
    { error, error_description: description },
    { mergeWithLastSubmission: false },
  );
  step.ctx.status = 303;
  step.ctx.redirect(redirectTo);
}
