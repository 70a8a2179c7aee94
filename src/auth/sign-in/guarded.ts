/** The guarded sign-in (SPEC §5): under a username lock, the password and the chosen factor's proof together. */
import type { Candidate } from '../../db/repositories/sign-ins.ts';
import type { Factor, FormFields, GuardedProof } from '../../factors/factor.ts';
import { standInKey } from '../../security/throttle.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { Outcome } from '../outcomes.ts';
import type { Attempt } from '../../security/throttle.ts';
import { type Guard, type SignIn, type SignInDeps, guardedContext, owns } from './context.ts';
import { finish } from './finish.ts';
import { advanced, answerable, counted, firstStop, locked, present, refused } from './guards.ts';
import type { Who } from '../who.ts';

/**
 * The username is locked by failures from elsewhere, and the citizen chose an Ügyfélkapu+
 * method: the password is checked all the same, and right or wrong the sign-in goes on to that
 * factor's proof (SPEC §5). With a right password the proof is real (a code is mailed); with a
 * wrong one it stands in, the same to look at and to answer, and never succeeds. So the lock
 * tells nobody whether a password was right, and strangers' failures lock out no citizen who
 * proves both. The step costs a try on the IP (the username's count stands locked).
 */
export async function beginGuarded(deps: SignInDeps, signIn: SignIn, requester: Who, typed: { username: string; password: string; candidate: Candidate | null }, factor: Factor, proof: GuardedProof<unknown>): Promise<Outcome> {
  const { candidate } = typed;
  const check = await deps.passwords.verify(candidate?.passwordHash, typed.password);
  const proven = candidate && check.ok && candidate.factorKinds.includes(factor.id) ? candidate : null;
  const now = deps.clock.now();
  return locked(deps, signIn, ['password'], async (r) => {
    const guard: Guard = { username: typed.username, kept: await proof.begin(guardedContext(r, signIn, proven, typed.username)) };
    await r.signIns.update(signIn.uid, { state: 'guarded', accountId: proven?.id ?? null, factor: factor.id, guard: JSON.stringify(guard) }, now);
    const type = proven ? 'signin.password_ok' : 'signin.password_failed';
    await r.audit.record({ type, accountId: candidate?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { guarded: true, locked: true }, seenAs: 'signin.guarded' }, now);
    return advanced(signIn, null);
  });
}

/** The answer to a guarded sign-in's proof: counted like any factor's (a stand-in on a key of its own). */
export async function verifyGuarded(deps: SignInDeps, signIn: SignIn, requester: Who, form: FormFields): Promise<Outcome> {
  const { factor, guard, account } = signIn;
  const input = factor?.parse(form);
  const stop = await firstStop(present(signIn, factor?.guarded, guard), answerable(deps, signIn, input));
  if (stop) return stop;
  const attempt = await deps.throttle.factor(deps.uow.repos.throttle, account?.id ?? standInKey(guard!.username), requester.ip);
  const throttled = await firstStop(counted(deps, signIn, attempt));
  if (throttled) return throttled;
  return locked(deps, signIn, ['guarded'], (r) => answerGuarded(deps, r, signIn, input, attempt!, requester), { factor: factor!.id, attempt: attempt! });
}

/** The proof checks the answer the same way with or without an account behind it; only a real one with the factor ends the sign-in. */
async function answerGuarded(deps: SignInDeps, r: Repos, signIn: SignIn, input: unknown, attempt: Attempt, requester: Who): Promise<Outcome> {
  const factor = signIn.factor!;
  const guard = signIn.guard!;
  const { account } = signIn;
  const { verification, kept } = await factor.guarded!.verify(guardedContext(r, signIn, account, guard.username), guard.kept, input);
  const now = deps.clock.now();
  if (verification.ok && account && owns(account, factor)) {
    await deps.throttle.succeeded(r.throttle, attempt);
    return finish(deps, r, signIn, 'two_factor', factor, requester, [], { amr: verification.amr });
  }
  const notice = verification.ok ? { key: 'code.invalid' } : verification.notice;
  if (kept !== guard.kept) await r.signIns.update(signIn.uid, { state: 'guarded', guard: JSON.stringify({ ...guard, kept }) }, now);
  await r.audit.record({ type: 'signin.factor_failed', accountId: account?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: notice.key, ...(!verification.ok && verification.refusal && { refusal: verification.refusal }), guarded: true } }, now);
  return refused(deps, { ...signIn, guard: { ...guard, kept } }, 'wrong_answer', notice, undefined, r);
}
