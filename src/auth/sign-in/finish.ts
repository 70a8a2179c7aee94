/** The end of a sign-in: the RP's interaction result (accountId, acr, amr) or a portal session, in the step's unit of work. */
import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { Factor, Spend } from '../../factors/factor.ts';
import { loginResult } from '../../oidc/interaction-store.ts';
import type { Settlement } from '../../security/throttle.ts';
import { type FlowState, isFlowState } from '../flow.ts';
import { type Level, amrFor } from '../levels.ts';
import { isNewBrowser, newBrowserMail } from '../new-browser.ts';
import type { Outcome } from '../outcomes.ts';
import { EXPIRED, PORTAL_HOME, type SignIn, type SignInDeps, serviceOf } from './context.ts';
import { offState, refused } from './guards.ts';
import type { Who } from '../who.ts';

/** How a step ends its sign-in, beyond the common. */
export interface FinishOptions {
  /** What a factor set up inline shows once (the törlőkód) before the browser goes on. */
  shownOnce?: Record<string, string> | null;
  /** What the proof itself showed (a WebAuthn key's), over the factor's own. */
  amr?: readonly string[] | undefined;
  /**
   * For a step that holds no lock on its flow (no unit of work): the states the flow must
   * still be in. The finishing statement locks and checks it, so the step needs no transaction.
   */
  from?: FlowState[];
  /** With `from`: the factor the flow must still be at. */
  fromFactor?: string;
  /** A lock-free proof's right answer, used up by the finishing statement (src/factors/context.ts). */
  spend?: Spend;
  /** A right answer's throttle bookkeeping, written with the end (whatever became of the flow). */
  settle?: Settlement;
}

/**
 * Ends the sign-in, in the caller's unit of work with the step's audit events: the flow is
 * done, and the RP's interaction gets its result (accountId, acr, amr) — or, at the portal,
 * a portal session is opened. The writes are one statement (src/db/repositories/sign-in-finish.ts).
 */
export async function finish(deps: SignInDeps, r: Repos, signIn: SignIn, level: Level, factor: Factor | null, requester: Who, events: AuditEvent[], options: FinishOptions = {}): Promise<Outcome> {
  const { acr, clock, portalSessions } = deps;
  const accountId = signIn.account!.id;
  const now = clock.now();
  if (level === 'two_factor' && factor?.level) level = factor.level;
  // Never a lower level than the RP asked for (a level only the phone app reaches).
  if (signIn.kind === 'rp' && !acr.satisfies(level, signIn.need)) {
    if (options.settle) await r.throttle.settle(options.settle.clear, options.settle.takeBack);
    return refused(deps, signIn, 'wrong_answer', { key: 'level.too_low' }, undefined, r);
  }
  let session: { token: string; expiresAt: Date } | undefined;
  if (signIn.kind === 'portal') session = await portalSessions.open(r, accountId, { ip: requester.ip, browser: requester.browser }, signIn.uid);
  const detail = { method: factor?.id ?? 'password', acr: acr.acrOf(level), ...(requester.browser && { browser: requester.browser }), ...(signIn.kind === 'portal' && { portal: true }) };
  events.push({ type: 'signin.succeeded', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail });
  const { mailer, newBrowserMail: mailNewBrowser } = deps;
  const mail = mailNewBrowser && mailer && isNewBrowser(requester, accountId) ? newBrowserMail(mailer, signIn.account!, signIn.mailLang, { service: serviceOf(signIn), who: requester, now }) : undefined;
  const result = signIn.kind === 'rp' ? loginResult({ accountId, acr: acr.acrOf(level), amr: amrFor(options.amr ?? factor?.amr ?? null, !signIn.passwordless) }) : undefined;
  // The language the citizen finished in becomes theirs: mails sent outside a sign-in are written in it.
  const finished = await r.signIns.finish({ uid: signIn.uid, kind: signIn.kind, accountId, lang: signIn.lang, now, result, from: options.from, fromFactor: options.fromFactor, spend: options.spend, events, mail, settle: options.settle });
  const returnTo = signIn.kind === 'rp' ? finished.answer : PORTAL_HOME;
  if (!finished.done || !returnTo) return options.from ? whyNot(deps, signIn, options.from, options.spend !== undefined || options.fromFactor !== undefined) : EXPIRED;
  const { shownOnce } = options;
  return { kind: 'finished', returnTo, accountId, ...(session && { portalSession: session }), ...(shownOnce && { shownOnce }) };
}

/**
 * A finishing statement that found the flow elsewhere, or gone: which. `more`: it checked more
 * than the state (the factor, an unspent code), so a flow still in one of `from` is shown again.
 */
export async function whyNot(deps: SignInDeps, signIn: SignIn, from: FlowState[], more = false): Promise<Outcome> {
  const state = await deps.uow.repos.signIns.state(signIn.uid);
  if (state === undefined) return EXPIRED;
  return offState({ uid: signIn.uid, state: isFlowState(state) ? state : 'choose_method' }, from) ?? (more ? { kind: 'wrong_step', uid: signIn.uid } : EXPIRED);
}
