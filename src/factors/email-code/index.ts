/**
 * Ügyfélkapu+ with an emailed code (SPEC §1.4, §2, §3): a 6-digit code sent by mail with a
 * 3-digit session tag (munkamenet-azonosító) that the page shows too, so the person can tell
 * which mail belongs to which sign-in. The same codes prove the mailbox when the factor is set
 * up ("Ügyfélkapu+ igénylés e-mailes kóddal"), under the purpose `enroll`.
 */
import type { Clock, Random } from '../../clock.ts';
import type { CodePurpose, LiveCode } from '../../db/repositories/one-time-codes.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type { EmailedCodes } from '../../security/emailed-codes.ts';
import {
  type ChangeProof,
  type Enrollable,
  type EnrollmentStart,
  type Factor,
  type FactorContext,
  type FactorView,
  type GuardedProof,
  type Notice,
  type OperatorEnrollable,
  type Removable,
  type ResetProof,
  type TypedProof,
  type Verification,
  parseCode,
} from '../factor.ts';
import type { FactorModule } from '../module.ts';

export const EMAIL_FACTOR_ID = 'email';
/** kapu's `amr` for the emailed code: RFC 8176 has no value for it (documented in README). */
export const EMAIL_AMR = 'email';

export interface EmailCodeDeps {
  codes: EmailedCodes;
  mailer: Mailer;
  clock: Clock;
  random: Random;
}

type CodeInput = { code: string };

export class EmailCodeFactor implements Factor<CodeInput> {
  readonly id = EMAIL_FACTOR_ID;
  readonly amr = [EMAIL_AMR];
  readonly labelKey = 'factor.email';
  /** A mailbox is all it needs: the way in for a citizen who has no Ügyfélkapu+ yet. */
  readonly setUpFirst = true as const;
  /** Its codes reached the account's address: the address is verified. */
  readonly provesAddress = true as const;
  readonly #deps: EmailCodeDeps;

  constructor(deps: EmailCodeDeps) {
    this.#deps = deps;
  }

  parse(form: Readonly<Record<string, unknown>>): CodeInput | undefined {
    return parseCode(form);
  }

  /**
   * A code mailed to the account's address, with the page's session tag. Lock-free: the try is
   * counted in one statement, and a right code is used up by the statement that ends the sign-in.
   */
  readonly signIn: TypedProof<CodeInput> = {
    answered: 'typed',
    lockFree: true,
    begin: (ctx) => this.#begin(ctx),
    resend: (ctx) => this.#send(ctx, 'signin'),
    view: (ctx) => this.#view(ctx, 'signin', '@email/sign-in'),
    verify: (ctx, input) => this.#verify(ctx, input),
  };

  async #begin(ctx: FactorContext): Promise<Notice | null> {
    // Coming back to this factor (after switching away) reuses a live code rather than
    // spamming the inbox; the cool-down would refuse a new one anyway.
    const live = await this.#deps.codes.liveBeforeSend(ctx.repos, 'signin', ctx.flowId, ctx.account.id);
    if (live && live.expires_at > this.#deps.clock.now()) return null;
    return this.#send(ctx, 'signin', { live, locked: true });
  }

  async #verify(ctx: FactorContext, input: CodeInput): Promise<Verification> {
    return this.#deps.codes.check(ctx.repos, 'signin', ctx.flowId, ctx.account.id, input.code, this.id, true);
  }

  /**
   * Under a username lock: a code mailed only where the password was right, kept on the flow
   * (tag, keyed hash, expiry, tries) the same way either way; a stand-in's hash matches no code.
   * One code per guarded sign-in: no resend, and after the last try it is dead.
   */
  readonly guarded: GuardedProof<CodeInput> = {
    begin: (ctx) => this.#deps.codes.sendGuarded(ctx.repos, ctx.flowId, ctx.account, ctx.lang, ctx.request),
    view: (ctx, kept) => {
      const code = this.#deps.codes.guardedState(kept);
      const { dead, expired } = code;
      // No new code under the lock: the way on is to start over.
      const notice = dead ? { key: 'guarded.code_exhausted', error: true } : expired ? { key: 'guarded.code_expired', error: true } : undefined;
      return {
        template: '@email/sign-in',
        data: { username: ctx.username, tag: code.tag, closed: dead || expired, resendAllowed: false, resendIn: 0 },
        ...(notice && { notice }),
      };
    },
    verify: async (ctx, kept, input) => this.#deps.codes.checkGuarded(ctx.flowId, kept, input.code),
  };

  /**
   * A change in the portal (a new address): a code to the account's *current* address, under
   * the purpose `change` and bound to the change, so only the mailbox the codes go to now can
   * let them go elsewhere.
   */
  readonly proveChange: ChangeProof<CodeInput> = {
    begin: (ctx) => this.#send(ctx, 'change'),
    resend: (ctx) => this.#send(ctx, 'change'),
    view: (ctx) => this.#view(ctx, 'change', '@email/enroll'),
    verify: (ctx, input) => this.#deps.codes.check(ctx.repos, 'change', ctx.flowId, ctx.account.id, input.code),
  };

  /**
   * A new password changed in the portal: a code to the account's address under the purpose
   * `reset`, bound to the change. A forgotten password's own mailed code is this proof already.
   */
  readonly proveReset: ResetProof<CodeInput> = {
    byMailbox: true,
    template: '@email/reset',
    parse: (form) => parseCode(form),
    begin: (ctx) => this.#send(ctx, 'reset').then((sent) => (sent.error ? sent : null)),
    verify: (ctx, input) => this.#deps.codes.check(ctx.repos, 'reset', ctx.flowId, ctx.account.id, input.code),
  };

  readonly enroll: Enrollable<CodeInput> = {
    words: { start: 'setup.send_code', dialog: 'setup.email_dialog' },
    begin: async (ctx): Promise<EnrollmentStart> => ({ notice: await this.#send(ctx, 'enroll') }),
    resend: (ctx) => this.#send(ctx, 'enroll'),
    view: (ctx) => this.#view(ctx, 'enroll', '@email/enroll'),
    confirm: async (ctx, input): Promise<Verification> => {
      const checked = await this.#deps.codes.check(ctx.repos, 'enroll', ctx.flowId, ctx.account.id, input.code);
      if (!checked.ok) return checked;
      const now = this.#deps.clock.now();
      await ctx.repos.factors.put({ id: this.#deps.random.uuid(), accountId: ctx.account.id, kind: this.id, secretSealed: null, now });
      await this.#deps.mailer.queue(ctx.repos.outbox, this.#deps.mailer.notice(ctx.account.email, ctx.lang, { key: 'mail.enrolled_email', name: ctx.account.name }), now);
      return checked;
    },
  };

  /** The factor goes, and with it every live code it mailed (a sign-in's, a setup's, a change's). */
  readonly removal: Removable = {
    remove: async (ctx) => {
      if (!(await ctx.repos.factors.remove(ctx.account.id, this.id))) return false;
      await ctx.repos.codes.expireLive(ctx.account.id, ['signin', 'enroll', 'change'], this.#deps.clock.now());
      return true;
    },
  };

  /** The account's address is all it needs. */
  readonly operatorEnroll: OperatorEnrollable = {
    enroll: async (ctx) => {
      await ctx.repos.factors.put({ id: this.#deps.random.uuid(), accountId: ctx.account.id, kind: this.id, secretSealed: null, now: this.#deps.clock.now() });
      return {};
    },
  };

  /** `live`: the flow's live code, when the caller has just read it (and took the account's code lock with it). */
  #send(ctx: FactorContext, purpose: CodePurpose, live?: { live: LiveCode | undefined; locked: boolean }): Promise<Notice> {
    return this.#deps.codes.send(ctx.repos, purpose, ctx.flowId, ctx.account, ctx.lang, ctx.request, live);
  }

  /**
   * The page around the code: the field only while a code can still be typed; otherwise what
   * can be done (a new code where the rules allow one, another factor, starting over). The
   * resend button's wait is given in seconds (the page's script counts it down).
   */
  async #view(ctx: FactorContext, purpose: CodePurpose, template: string): Promise<FactorView> {
    // A sign-in's page gets its live code from the step's read, when it brought it.
    const known = purpose === 'signin' ? ctx.signInCode : undefined;
    const live = known !== undefined ? (known ?? undefined) : await this.#deps.codes.live(ctx.repos, purpose, ctx.flowId, ctx.account.id);
    const { rules } = this.#deps.codes;
    const now = this.#deps.clock.now().getTime();
    // Tries used up: a new code would inherit them, so no new code in this sign-in either.
    const dead = live !== undefined && live.attempts >= rules.maxAttempts;
    const expired = live !== undefined && !dead && live.expires_at.getTime() <= now;
    const resendIn = live && !dead ? Math.max(0, Math.ceil((live.created_at.getTime() + rules.resendSeconds * 1000 - now) / 1000)) : 0;
    // No code yet (the first one was refused, e.g. by the hourly cap): say how to get one.
    const notice = dead ? { key: 'code.exhausted', error: true } : expired ? { key: 'code.expired' } : !live ? { key: 'code.none' } : undefined;
    return {
      template,
      data: { username: ctx.account.username, email: ctx.account.email, tag: live?.tag ?? '', minutes: this.#deps.codes.minutes, closed: !live || dead || expired, resendAllowed: !dead, resendIn },
      ...(notice && { notice }),
    };
  }
}

export const emailCode: FactorModule = {
  id: EMAIL_FACTOR_ID,
  folder: new URL('./', import.meta.url),
  create: (deps) => new EmailCodeFactor(deps),
  cli: {
    help: "the emailed code (Ügyfélkapu+ e-mailes kóddal): codes go to the account's address",
    again: { keep: true },
    said: (account, { added }) => [
      added ? `emailed-code factor added for ${account.username}: codes go to ${account.email}` : `${account.username} already has the emailed-code factor (codes go to ${account.email})`,
    ],
  },
};
