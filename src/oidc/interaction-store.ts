/**
 * oidc-provider's stored Interaction, as kapu reads and writes it: the one file to change when a
 * provider upgrade changes what an Interaction holds. Every write kapu makes into an
 * Interaction goes through here:
 * - a sign-in's end (`loginResult`, `finishWithError`): the `result` the provider's resume
 *   endpoint reads, stored in place in the sign-in core's own unit of work, as
 *   `provider.interactionResult()` would store it (without reading the interaction back first);
 * - consent (`finishWithConsent`): through the provider's own `interactionResult`, merged with
 *   the login the provider kept as the interaction's `lastSubmission`.
 * What kapu reads of it is the RP's request (`requestOf`). The sign-in's first read finds the
 * Interaction row by its model name and uid (src/db/repositories/sign-ins.ts), and the
 * adapter's lookup follows a finished login's account (src/db/repositories/oidc-payloads.ts).
 */
import type Provider from 'oidc-provider';
import type { Repos } from '../db/repositories/index.ts';

/** The provider's model name of an interaction in kapu's payload table. */
const INTERACTION = 'Interaction';
/** Where the provider's resume endpoint reads the interaction's result, and where it resumes. */
const RESULT = 'result';
const RETURN_TO = 'returnTo';

/** What kapu uses of the RP's authorization request, as the Interaction keeps it. */
export interface InteractionRequest {
  clientId: string;
  uiLocales: string | undefined;
  acrValues: string | undefined;
  redirectUri: string | undefined;
  /** The prompt the provider asks kapu to resolve: 'login', or 'consent'. */
  prompt: string;
}

/** The RP's request, from a stored Interaction's payload. */
export function requestOf(payload: Record<string, unknown>): InteractionRequest {
  const params = (payload['params'] ?? {}) as Record<string, unknown>;
  const prompt = payload['prompt'] as { name?: unknown } | undefined;
  return {
    clientId: String(params['client_id'] ?? ''),
    uiLocales: text(params['ui_locales']),
    acrValues: text(params['acr_values']),
    redirectUri: text(params['redirect_uri']),
    prompt: String(prompt?.name ?? 'login'),
  };
}

/** Who signed in, and how: what the provider puts in the session and the ID token. */
export interface Login {
  accountId: string;
  acr: string;
  amr: string[];
}

/**
 * The sign-in ended with `login`: the write into its Interaction that the sign-in's finishing
 * statement makes (src/db/repositories/sign-in-finish.ts), and the field it answers with, the
 * URL the browser resumes at. kapu never asks the provider to remember the citizen beyond the
 * session (`remember: false`).
 */
export function loginResult(login: Login): { field: string; value: unknown; answer: string } {
  return { field: RESULT, value: { login: { accountId: login.accountId, acr: login.acr, amr: login.amr, remember: false } }, answer: RETURN_TO };
}

/** The sign-in `uid` ended without a login, in the caller's unit of work: the RP gets this OAuth error; the URL to resume at, or undefined when the interaction is gone. */
export function finishWithError(r: Repos, uid: string, error: string, description: string, now: Date): Promise<string | undefined> {
  return storeResult(r, uid, { error, error_description: description }, now);
}

/** Consent given with `grantId`, for the interaction of this request's cookie: the URL to resume at. */
export function finishWithConsent(provider: Provider, req: Parameters<Provider['interactionResult']>[0], res: Parameters<Provider['interactionResult']>[1], grantId: string): Promise<string> {
  return provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/** The result the resume endpoint reads, stored in place; the answer is where to resume. */
function storeResult(r: Repos, uid: string, result: Record<string, unknown>, now: Date): Promise<string | undefined> {
  return r.payloads.setField(INTERACTION, uid, RESULT, result, now, RETURN_TO);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
