/**
 * POST /interaction/:uid/password — username + password. One generic answer for an unknown
 * user and a wrong password (same page, same status, same time: argon2 runs either way).
 * Nothing before a correct password reveals whether the account exists or what it has.
 */
import type { Context } from 'koa';
import { WrongStep } from '../errors.ts';
import type { Factor, Notice } from '../factors/factor.ts';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.ts';
import { type InteractionEnv, type Step, field, loadPost, redirectToFlow } from './context.ts';
import { finishSignIn } from './finish.ts';
import { LEGACY_METHOD } from './method.ts';
import { renderFactor, renderPassword } from './show.ts';

const USERNAME_MAX_LENGTH = 200;

export function submitPassword(env: InteractionEnv) {
  return async (ctx: Context) => {
    const step = await loadPost(ctx, env, ['password']);
    const { deps } = env;
    const username = field(ctx, 'username', USERNAME_MAX_LENGTH)?.trim() ?? '';
    const password = field(ctx, 'password', PASSWORD_MAX_LENGTH) ?? '';
    if (!username || !password) {
      return renderPassword(step, { key: 'password.missing', error: true }, username, 400);
    }

    // The attempt is counted before the password is checked (see Throttle). A locked username
    // or IP gets the same answer as a wrong password, after the same work.
    const attempt = await deps.throttle.password(username, ctx.ip);
    const credentials = attempt ? await deps.repos.accounts.findCredentials(username) : undefined;
    const check = await deps.passwords.verify(credentials?.password_hash, password);
    const now = deps.clock.now();
    if (!credentials || !check.ok) {
      await deps.repos.audit.record(
        { type: 'signin.password_failed', accountId: credentials?.id ?? null, clientId: step.client.id, ip: ctx.ip, detail: { locked: !attempt } },
        now,
      );
      if (attempt?.locked) await deps.repos.audit.record({ type: 'signin.locked', accountId: credentials?.id ?? null, ip: ctx.ip }, now);
      return renderPassword(step, { key: 'password.failed', error: true }, username, 401);
    }
    // The right password is no failure; the counters are cleared once the sign-in finishes.
    await attempt!.release();
    if (check.rehash) await deps.repos.accounts.updatePasswordHash(credentials.id, check.rehash, now);
    await deps.repos.audit.record({ type: 'signin.password_ok', accountId: credentials.id, clientId: step.client.id, ip: ctx.ip }, now);
    ctx.state['accountId'] = credentials.id;

    const kinds = await deps.repos.factors.kinds(credentials.id);
    await next({ ...step, flow: { ...step.flow, accountId: credentials.id } }, deps.factors.pick(kinds));
  };
}

/** After a correct password: finish (password only), a factor, the factor choice, or upgrade. */
async function next(step: Step, factors: Factor[]): Promise<void> {
  const { deps, acr } = step.env;
  const now = deps.clock.now();
  const method = step.flow.method;
  const accountId = step.flow.accountId!;

  if (method === LEGACY_METHOD && step.need === 'password' && acr.legacyAllowed(now)) {
    return finishSignIn(step, 'password', null, null);
  }
  const chosen = factors.find((f) => f.id === method);
  const target = chosen ?? (factors.length === 1 && method === LEGACY_METHOD ? factors[0] : undefined);
  const state = target ? 'factor' : factors.length > 0 ? 'choose_factor' : 'upgrade';
  // The flow takes the account first, in one conditional update: of two password posts racing
  // in one sign-in, only the winner goes on, and only the winner's factor starts (sends a code).
  const moved = await deps.repos.flows.transition(step.uid, ['password'], { state, accountId, factor: target?.id ?? null }, now);
  if (!moved) throw new WrongStep();
  let notice: Notice | null = null;
  if (target) {
    const account = await deps.repos.accounts.findById(accountId);
    notice = await target.begin({ flowId: step.uid, account: account!, lang: step.lang });
  }
  // A refused start (the hourly code cap) is said as such, like a refused resend: never "sent".
  if (notice?.error) return renderFactor({ ...step, flow: { ...step.flow, state, factor: target?.id ?? null } }, notice, 429);
  redirectToFlow(step, notice);
}
