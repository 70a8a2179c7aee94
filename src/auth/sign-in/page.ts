/** What the sign-in's page shows in each state. */
import type { Repos } from '../../db/repositories/index.ts';
import type { LiveCode } from '../../db/repositories/one-time-codes.ts';
import { LEGACY_METHOD } from '../flow.ts';
import type { MethodOption, SignInPage } from '../pages.ts';
import { proofOf } from '../proof.ts';
import { type SignIn, type SignInDeps, flowContext, guardedContext, option, passwordAllowed, passwordToo } from './context.ts';

export function factorChoice(deps: SignInDeps, signIn: SignIn): SignInPage {
  const owned = signIn.account?.factors ?? [];
  return { state: 'choose_factor', factors: owned.map(option), chosenMissing: signIn.method !== LEGACY_METHOD && !owned.some((f) => f.id === signIn.method) };
}

export async function page(deps: SignInDeps, signIn: SignIn, repos: Repos, username: string, code?: LiveCode | null): Promise<SignInPage> {
  const { factors, acr, clock } = deps;
  switch (signIn.state) {
    case 'choose_method':
    case 'done': {
      const methods: MethodOption[] = factors.all().map(option);
      // Password-only sign-in is offered while the cut-off allows it and the RP accepts it;
      // at the portal always (an account with a factor goes on to it).
      if (signIn.kind === 'portal') methods.push({ id: LEGACY_METHOD, labelKey: 'method.legacy' });
      else if (passwordAllowed(deps, signIn, clock.now())) methods.push({ id: LEGACY_METHOD, labelKey: 'method.legacy', legacy: { until: acr.legacyUntil } });
      // After the cut-off the chooser says why "Ügyfélkapuval" is gone, and which method sets Ügyfélkapu+ up.
      const since = signIn.kind === 'rp' && !acr.legacyAllowed(clock.now()) ? acr.legacyUntil : null;
      const setUp = factors.all().find((f) => f.setUpFirst);
      return { state: 'choose_method', methods, ...(since && setUp && { legacyEnded: { since, setUp: option(setUp) } }) };
    }
    case 'password':
      return { state: 'password', method: { id: signIn.method ?? LEGACY_METHOD, labelKey: factors.get(signIn.method)?.labelKey ?? 'method.legacy' }, username };
    case 'factor': {
      const { factor, account } = signIn;
      const proof = proofOf(factor, { ...flowContext(repos, signIn), ...(code !== undefined && { signInCode: code }) });
      // A flow at a factor the registry no longer knows: the citizen chooses again.
      if (!factor || !proof) return factorChoice(deps, signIn);
      return {
        state: 'factor',
        factor: option(factor),
        view: await proof.view(),
        others: account ? account.factors.filter((f) => f !== factor).map(option) : [],
        canResend: proof.resend !== undefined,
        ...(!account && passwordToo(factor) && { withPassword: true as const }),
      };
    }
    case 'guarded': {
      const { factor, guard, account } = signIn;
      if (!factor?.guarded || !guard) return factorChoice(deps, signIn);
      const ctx = guardedContext(repos, signIn, account, guard.username);
      return { state: 'factor', factor: option(factor), view: factor.guarded.view(ctx, guard.kept), others: [], canResend: false, guarded: true };
    }
    case 'choose_factor':
      return factorChoice(deps, signIn);
    case 'upgrade':
      return {
        state: 'upgrade',
        reason: signIn.need === 'two_factor' ? 'required' : signIn.method !== LEGACY_METHOD ? 'not_enrolled' : 'cutoff',
        setUp: factors.all().map(option),
        passwordOnly: passwordAllowed(deps, signIn, clock.now()),
      };
    case 'enroll': {
      const { account, enrollmentId, factor } = signIn;
      const shown = account && enrollmentId ? await deps.enrollments.view(repos, account, enrollmentId, signIn.lang) : undefined;
      if (!shown || !factor) return { state: 'upgrade', reason: 'cutoff', setUp: factors.all().map(option), passwordOnly: false };
      return { state: 'enroll', factor: option(factor), view: shown.view, canResend: factor.enroll?.resend !== undefined };
    }
  }
}
