import type { Candidate } from '../../db/repositories/sign-ins.ts';
import type { Factor, FormFields, GuardedProof } from '../../factors/factor.ts';
import { standInKey } from '../../security/throttle.ts';
import type { Outcome } from '../outcomes.ts';
import { type Guard, type Requester, type SignIn, type SignInDeps, guardedContext, owns } from './context.ts';
import { finish } from './finish.ts';
import { advanced, lock, refused } from './guards.ts';

/**
 * The username is locked by failures from elsewhere, and the citizen chose an Ügyfélkapu+
 * method: the password is checked all the same, and right or wrong the sign-in goes on to that
 * factor's proof (SPEC §5). With a right password the proof is real (a code is mailed); with a
 * wrong one it stands in, the same to look at and to answer, and never succeeds. So the lock
 * tells nobody whether a password was right, and strangers' failures lock out no citizen who
 * proves both. The step costs a try on the IP (the username's count stands locked).
 */
export async function beginGuarded(deps: SignInDeps, signIn: SignIn, requester: Requester, typed: { username: string; password: string; candidate: Candidate | null }, factor: Factor, proof: GuardedProof<unknown>): Promise<Outcome> {
  const { uow, passwords, clock } = deps;
  const { candidate } = typed;
  const check = await passwords.verify(candidate?.passwordHash, typed.password);
  const proven = candidate && check.ok && candidate.factorKinds.includes(factor.id) ? candidate : null;
  const now = clock.now();
  return uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['password']);
    if (elsewhere) return elsewhere;
    const ctx = guardedContext(deps, r, signIn, proven, typed.username);
    const guard: Guard = { username: typed.username, kept: await proof.begin(ctx) };
    await r.signIns.update(signIn.uid, { state: 'guarded', accountId: proven?.id ?? null, factor: factor.id, guard: JSON.stringify(guard) }, now);
    const type = proven ? 'signin.password_ok' : 'signin.password_failed';
    await r.audit.record({ type, accountId: candidate?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { guarded: true, locked: true }, seenAs: 'signin.guarded' }, now);
    return advanced(deps, signIn, null);
  });
}

/** The answer to a guarded sign-in's proof: counted like any factor's (a stand-in on a key of its own). */
export async function verifyGuarded(deps: SignInDeps, signIn: SignIn, requester: Requester, form: FormFields): Promise<Outcome> {
  const { factor, guard, account } = signIn;
  const proof = factor?.guarded;
  if (!factor || !proof || !guard) return { kind: 'wrong_step', uid: signIn.uid };
  const input = factor.parse(form);
  if (input === undefined) return refused(deps, signIn, 'invalid_input', { key: 'code.format' });
  const { uow, throttle, clock } = deps;
  const attempt = await throttle.factor(uow.repos.throttle, account?.id ?? standInKey(guard.username), requester.ip);
  if (!attempt) return refused(deps, signIn, 'locked', { key: 'throttle.locked' });
  return uow.transaction(async (r) => {
    const elsewhere = await lock(deps, r, signIn, ['guarded'], factor.id);
    if (elsewhere) {
      await r.throttle.settle([], attempt.counted);
      return elsewhere;
    }
    const ctx = guardedContext(deps, r, signIn, account, guard.username);
    const { verification, kept } = await proof.verify(ctx, guard.kept, input);
    const now = clock.now();
    if (!verification.ok || !account || !owns(account, factor)) {
      const notice = verification.ok ? { key: 'code.invalid' } : verification.notice;
      if (kept !== guard.kept) await r.signIns.update(signIn.uid, { state: 'guarded', guard: JSON.stringify({ ...guard, kept }) }, now);
      await r.audit.record({ type: 'signin.factor_failed', accountId: account?.id ?? null, clientId: signIn.client?.id ?? null, ip: requester.ip, detail: { factor: factor.id, reason: notice.key, guarded: true } }, now);
      return refused(deps, { ...signIn, guard: { ...guard, kept } }, 'wrong_answer', notice, undefined, r);
    }
    await throttle.succeeded(r.throttle, attempt);
    return finish(deps, r, signIn, 'two_factor', factor, requester, []);
  });
}
