/** The end of a sign-in: the RP's interaction result (accountId, acr, amr) or a portal session, in the step's unit of work. */
import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { Factor } from '../../factors/factor.ts';
import { finishWithLogin } from '../../oidc/interaction-store.ts';
import { type Level, amrFor } from '../levels.ts';
import { isNewBrowser, queueNewBrowserMail } from '../new-browser.ts';
import type { Outcome } from '../outcomes.ts';
import { EXPIRED, PORTAL_HOME, type SignIn, type SignInDeps, serviceOf } from './context.ts';
import { refused } from './guards.ts';
import type { Who } from '../who.ts';

/**
 * Ends the sign-in, in the caller's unit of work with the step's audit events: the flow is
 * done, and the RP's interaction gets its result (accountId, acr, amr) — or, at the portal,
 * a portal session is opened. `shownOnce`: what a factor set up inline shows once (the
 * törlőkód) before the browser goes on. `amr`: what the proof itself showed (a WebAuthn key's), over
 * the factor's own.
 */
export async function finish(deps: SignInDeps, r: Repos, signIn: SignIn, level: Level, factor: Factor | null, requester: Who, events: AuditEvent[], shownOnce: Record<string, string> | null = null, amr?: readonly string[]): Promise<Outcome> {
  const { acr, clock, portalSessions } = deps;
  const accountId = signIn.account!.id;
  const now = clock.now();
  if (level === 'two_factor' && factor?.level) level = factor.level;
  // Never a lower level than the RP asked for (a level only the phone app reaches).
  if (signIn.kind === 'rp' && !acr.satisfies(level, signIn.need)) return refused(deps, signIn, 'wrong_answer', { key: 'level.too_low' }, undefined, r);
  let returnTo: string | undefined = PORTAL_HOME;
  let session: { token: string; expiresAt: Date } | undefined;
  if (signIn.kind === 'portal') {
    session = await portalSessions.open(r, accountId, { ip: requester.ip, browser: requester.browser }, signIn.uid);
  } else {
    returnTo = await finishWithLogin(r, signIn.uid, { accountId, acr: acr.acrOf(level), amr: amrFor(amr ?? factor?.amr ?? null, !signIn.passwordless) }, now);
    if (!returnTo) return EXPIRED;
  }
  // The language the citizen finished in becomes theirs: mails sent outside a sign-in are written in it.
  await r.signIns.markDone(signIn.uid, accountId, signIn.lang, now);
  const { mailer, newBrowserMail } = deps;
  if (newBrowserMail && mailer && isNewBrowser(requester, accountId)) await queueNewBrowserMail(r, mailer, signIn.account!, signIn.mailLang, { service: serviceOf(signIn), who: requester, now });
  const detail = { method: factor?.id ?? 'password', acr: acr.acrOf(level), ...(requester.browser && { browser: requester.browser }), ...(signIn.kind === 'portal' && { portal: true }) };
  events.push({ type: 'signin.succeeded', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail });
  await r.audit.record(events, now);
  return { kind: 'finished', returnTo, accountId, ...(session && { portalSession: session }), ...(shownOnce && { shownOnce }) };
}
