/** The start of a sign-in and the steps that need no answer: the portal's start, the page, the method chooser, back, consent, cancel. */
import type { Factor, Notice } from '../../factors/factor.ts';
import { finishWithError } from '../../oidc/interaction-store.ts';
import { type FlowState, LEGACY_METHOD } from '../flow.ts';
import type { Outcome } from '../outcomes.ts';
import { proofOf } from '../proof.ts';
import { CHOICE_MAX_LENGTH, EXPIRED, PORTAL_HOME, PORTAL_SIGN_IN_SECONDS, type SignIn, type SignInDeps, asking, flowContext, load, passwordToo } from './context.ts';
import { advance, advanced, firstStop, inState, known, locked, refused, shown } from './guards.ts';
import type { Who } from '../who.ts';

/**
 * Starts a sign-in at the account portal: its flow's uid (the browser is sent to its page).
 * `sessionToken`: the browser's portal session, if it has one; it ends when this sign-in
 * finishes, so a second sign-in in the same browser leaves no earlier session behind.
 */
export async function startPortal(deps: SignInDeps, sessionToken?: string): Promise<string> {
  const { uow, clock, random, portalSessions } = deps;
  const uid = random.uuid();
  const now = clock.now();
  await uow.repos.signIns.openPortal(uid, now, new Date(now.getTime() + PORTAL_SIGN_IN_SECONDS * 1000), portalSessions.idOf(sessionToken));
  return uid;
}

/** The flow's current page. */
export async function show(deps: SignInDeps, uid: string, requester: Who, notice: Notice | null): Promise<Outcome> {
  const loaded = await load(deps, uid, requester);
  if (!loaded) return EXPIRED;
  const { signIn } = loaded;
  if (signIn.prompt === 'consent') return { kind: 'consent', uid };
  // The live code the read brought along is shown as it is: this step writes nothing.
  return { kind: 'show', shown: await shown(deps, signIn, deps.uow.repos, '', loaded.code), notice };
}

/** The citizen picked a sign-in method on the chooser; next: the password (or a passwordless proof). */
export async function chooseMethod(deps: SignInDeps, uid: string, requester: Who, method: unknown): Promise<Outcome> {
  const name = typeof method === 'string' && method.length <= CHOICE_MAX_LENGTH ? method : undefined;
  // The usual case is one statement: a method that asks for the password moves a live flow on
  // from the chooser. Only when it does not is the sign-in read, to say why.
  const withPassword = name === LEGACY_METHOD || (deps.factors.get(name) !== undefined && !deps.factors.with(name, 'passwordless'));
  if (withPassword && (await deps.uow.repos.signIns.advance(uid, ['choose_method'], { state: 'password', method: name! }, deps.clock.now()))) {
    return { kind: 'advanced', uid, notice: null };
  }
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const stop = await firstStop(inState(signIn, ['choose_method']), known(name === LEGACY_METHOD || deps.factors.get(name), 'unknown_method'));
  if (stop) return stop;
  const alone = deps.factors.with(name, 'passwordless');
  if (alone) return beginAlone(deps, signIn, requester, alone);
  return advance(deps, signIn, ['choose_method'], { state: 'password', method: name! });
}

/** A passwordless factor chosen on the method chooser: straight to its proof, no password. */
export async function beginAlone(deps: SignInDeps, signIn: SignIn, requester: Who, factor: Factor): Promise<Outcome> {
  return locked(deps, signIn, ['choose_method'], async (r) => {
    await r.signIns.update(signIn.uid, { state: 'factor', method: factor.id, factor: factor.id }, deps.clock.now());
    const notice = await proofOf(factor, { ...flowContext(r, { ...signIn, account: null }), asking: asking(signIn, requester) })!.begin();
    return notice?.error ? refused(deps, signIn, 'rate_limited', notice, undefined, r) : advanced(signIn, null);
  });
}

/**
 * From a passwordless proof's page to the password, with that factor as the method: the citizen
 * signs in with username and password, then proves the factor after them (its sign-in proof, or
 * under a username lock its guarded proof, which is reached only this way). Offered where the
 * factor has both (see the page).
 */
export async function usePassword(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const factor = signIn.account === null ? signIn.factor : undefined;
  const stop = await firstStop(inState(signIn, ['factor']), known(factor && passwordToo(factor), 'unknown_method'));
  return stop ?? advance(deps, signIn, ['factor'], { state: 'password', method: factor!.id, factor: null });
}

/** Back from the password step to the method chooser. */
export async function restart(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  // From a passwordless factor's page too (no account yet): back to the chooser.
  const from: FlowState[] = signIn.account === null && signIn.factor?.passwordless ? ['password', 'factor'] : ['password'];
  return (await firstStop(inState(signIn, from))) ?? advance(deps, signIn, from, { state: 'choose_method', method: null, factor: null });
}

/**
 * The citizen allows an RP that asks for consent. The grant itself is the provider's
 * business (src/interactions/consent.ts); the core says whether this is the moment for it.
 */
export async function consent(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  const stop = await firstStop(inState(signIn, ['choose_method', 'done']));
  if (stop) return stop;
  return signIn.prompt === 'consent' ? { kind: 'consent', uid } : advanced(signIn, null);
}

/** The citizen cancels; the RP gets an OAuth error back. Welcome in every state. */
export async function abort(deps: SignInDeps, uid: string, requester: Who): Promise<Outcome> {
  const signIn = (await load(deps, uid, requester))?.signIn;
  if (!signIn) return EXPIRED;
  // After an upgrade page: OpenID Connect's error for "the level asked for cannot be reached".
  const [error, description] =
    signIn.state === 'upgrade'
      ? ['unmet_authentication_requirements', 'the account has no second factor']
      : ['access_denied', 'the citizen cancelled the sign-in'];
  const now = deps.clock.now();
  return deps.uow.transaction(async (r) => {
    // A portal sign-in has no RP to tell: the citizen is back at the portal.
    const returnTo = signIn.kind === 'portal' ? PORTAL_HOME : await finishWithError(r, uid, error, description, now);
    if (!returnTo) return EXPIRED;
    const accountId = signIn.account?.id ?? null;
    if (signIn.kind === 'portal') await r.signIns.update(uid, { state: 'done' }, now);
    await r.audit.record({ type: 'signin.aborted', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { error } }, now);
    return { kind: 'finished', returnTo, accountId };
  });
}

// ---------------------------------------------------------------------------------------
