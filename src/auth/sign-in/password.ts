/** The password step: one answer for every failure, and on to the factor the account has. */
import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { FormFields } from '../../factors/factor.ts';
import { PASSWORD_MAX_LENGTH } from '../../security/passwords.ts';
import { isLang } from '../../views.ts';
import { LEGACY_METHOD } from '../flow.ts';
import type { Outcome } from '../outcomes.ts';
import { tellFailures } from '../lock-notice.ts';
import { EXPIRED, USERNAME_MAX_LENGTH, type Account, type SignInDeps, accountOf, boundedString, load, passwordIsEnough } from './context.ts';
import { finish } from './finish.ts';
import { beginGuarded } from './guarded.ts';
import { advanced, begin, firstStop, inState, lock, refused } from './guards.ts';
import type { Who } from '../who.ts';

/**
 * Username + password. One answer for an unknown user, a wrong password and a locked
 * username (same page, same status, same time: argon2 runs either way). Nothing before a
 * right password reveals whether the account exists or what it has.
 */
export async function password(deps: SignInDeps, uid: string, requester: Who, form: FormFields): Promise<Outcome> {
  const username = boundedString(form['username'], USERNAME_MAX_LENGTH)?.trim() ?? '';
  const password = boundedString(form['password'], PASSWORD_MAX_LENGTH) ?? '';
  const { uow, throttle, passwords, clock } = deps;
  // Counted before it is checked, in the statement that reads the sign-in (only while it is at
  // the password); a browser that signed in to this account before is counted apart, so
  // guesses from elsewhere do not lock it out.
  const count = username && password ? throttle.passwordCount(username, requester.ip, requester.device ?? null) : undefined;
  const loaded = await load(deps, uid, requester, username || undefined, count);
  if (!loaded) return EXPIRED;
  const { signIn, candidate } = loaded;
  const stop = await firstStop(inState(signIn, ['password']), () => (username && password ? null : refused(deps, signIn, 'invalid_input', { key: 'password.missing' }, username)));
  if (stop) return stop;

  const knownDevice = requester.device && candidate && requester.device.accountId === candidate.id ? requester.device.id : null;
  const attempt = await throttle.passwordAdmitted(uow.repos.throttle, count!, candidate?.id ?? null, loaded.counted ?? []);
  // Locked by failures from elsewhere: an Ügyfélkapu+ method's proof may still get in.
  const chosen = deps.factors.get(signIn.method);
  const proof = chosen?.guarded;
  if (!attempt && !knownDevice && chosen && proof && (await throttle.guarded(uow.repos.throttle, requester.ip))) {
    return beginGuarded(deps, signIn, requester, { username, password, candidate }, chosen, proof);
  }
  const check = await passwords.verify(attempt ? candidate?.passwordHash : undefined, password);
  const now = clock.now();
  if (!attempt || !candidate || !check.ok) {
    // A refused (locked) attempt is not checked against any account: it names none.
    const accountId = (attempt && candidate?.id) || null;
    const events: AuditEvent[] = [{ type: 'signin.password_failed', accountId, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { locked: !attempt } }];
    if (attempt?.locked) events.push({ type: 'signin.locked', accountId, ip: requester.ip });
    // The citizen is told; a name that is nobody's gets a stand-in, as much work to the byte.
    if (attempt?.tell && deps.mailer) await tellFailures(uow, deps.mailer, candidate, attempt.tell, events, now);
    else await uow.repos.audit.record(events, now);
    return refused(deps, signIn, 'wrong_credentials', { key: 'password.failed' }, username);
  }

  const account: Account = { ...accountOf(candidate), factors: deps.factors.pick(candidate.factorKinds), lang: isLang(candidate.lang) ? candidate.lang : null };
  const identified = { ...signIn, account };
  const passed: AuditEvent = { type: 'signin.password_ok', accountId: account.id, clientId: signIn.client?.id ?? null, ip: requester.ip };
  if (signIn.kind === 'rp' && !check.rehash && passwordIsEnough(deps, identified, now)) {
    // The password ends an RP's sign-in: one statement locks the flow, checks it is still at the
    // password, finishes it and settles the throttle; no transaction around it.
    return finish(deps, uow.repos, identified, 'password', null, requester, [passed], { from: ['password'], settle: throttle.settlement(attempt) });
  }
  const named = account.factors.find((f) => f.id === signIn.method);
  // "Ügyfélkapuval" at the portal, for an account that has a factor: that factor.
  const fallback = account.factors.length === 1 && signIn.method === LEGACY_METHOD ? account.factors[0] : undefined;
  const target = named ?? fallback;
  const state = target ? 'factor' : account.factors.length > 0 ? 'choose_factor' : 'upgrade';
  const change = { state, accountId: account.id, factor: target?.id ?? null };
  return uow.transaction(async (r) => {
    // The flow's row before the throttle's, as every step takes them (no deadlock); a right
    // password is no failure. On to the factor in that same statement, unless there is more to do.
    const onlyMove = !check.rehash && !passwordIsEnough(deps, identified, now);
    const elsewhere = await lock(r, signIn, ['password'], undefined, throttle.settlement(attempt), onlyMove ? { change, events: [passed], now } : undefined);
    if (elsewhere) return elsewhere;
    if (check.rehash) await r.accounts.updatePasswordHash(account.id, check.rehash, now);
    if (passwordIsEnough(deps, identified, now)) return finish(deps, r, identified, 'password', null, requester, [passed]);
    if (!onlyMove) await r.signIns.update(uid, change, now, [passed]);
    return target ? begin(deps, r, { ...identified, state, factor: target }, requester) : advanced(signIn, null);
  });
}
