/**
 * Ügyfélkapu+ with an emailed code (SPEC §1.4, §2, §3): a 6-digit code sent by mail with a
 * 3-digit session tag (munkamenet-azonosító) that the page shows too, so the person can tell
 * which mail belongs to which sign-in. Only the keyed hash of a code is stored. The same code
 * machinery proves the mailbox when the factor is set up ("Ügyfélkapu+ igénylés e-mailes
 * kóddal"), under the code purpose `enroll`.
 */
import { type Clock, type Random, digits } from '../../clock.ts';
import type { CodePurpose, CodeRules, CodeScope } from '../../db/repositories/one-time-codes.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type { SecretBox } from '../../security/secret-box.ts';
import {
  type EnrollmentStart,
  type Factor,
  type FactorContext,
  type FactorView,
  type Notice,
  type Verification,
  parseCode,
} from '../factor.ts';

export const EMAIL_FACTOR_ID = 'email';
/** kapu's `amr` for the emailed code: RFC 8176 has no value for it (documented in README). */
export const EMAIL_AMR = 'email';

export interface EmailCodeDeps {
  mailer: Mailer;
  box: SecretBox;
  clock: Clock;
  random: Random;
  rules: CodeRules;
}

type CodeInput = { code: string };

export class EmailCodeFactor implements Factor<CodeInput> {
  readonly id = EMAIL_FACTOR_ID;
  readonly amr = [EMAIL_AMR];
  readonly labelKey = 'factor.email';
  readonly #deps: EmailCodeDeps;

  constructor(deps: EmailCodeDeps) {
    this.#deps = deps;
  }

  parse(form: Readonly<Record<string, unknown>>): CodeInput | undefined {
    return parseCode(form);
  }

  async begin(ctx: FactorContext): Promise<Notice | null> {
    // Coming back to this factor (after switching away) reuses a live code rather than
    // spamming the inbox; the cool-down would refuse a new one anyway.
    const live = await ctx.repos.codes.live(scope(ctx, 'signin'));
    if (live && live.expires_at > this.#deps.clock.now()) return null;
    return this.#send(ctx, 'signin');
  }

  resend(ctx: FactorContext): Promise<Notice> {
    return this.#send(ctx, 'signin');
  }

  async view(ctx: FactorContext): Promise<FactorView> {
    const live = await ctx.repos.codes.live(scope(ctx, 'signin'));
    return {
      template: 'factors/email',
      data: { username: ctx.account.username, tag: live?.tag ?? '' },
      // No code yet (the first one was refused, e.g. by the hourly cap): say how to get one.
      ...(!live && { notice: { key: 'code.none' } }),
    };
  }

  async verify(ctx: FactorContext, input: CodeInput): Promise<Verification> {
    const checked = await this.#check(ctx, 'signin', input.code);
    if (checked.ok) await ctx.repos.factors.touch(ctx.account.id, this.id, this.#deps.clock.now());
    return checked;
  }

  readonly enroll = {
    begin: async (ctx: FactorContext): Promise<EnrollmentStart> => ({ notice: await this.#send(ctx, 'enroll') }),
    confirm: async (ctx: FactorContext, input: CodeInput): Promise<Verification> => {
      const checked = await this.#check(ctx, 'enroll', input.code);
      if (!checked.ok) return checked;
      const now = this.#deps.clock.now();
      await ctx.repos.factors.put({ id: this.#deps.random.uuid(), accountId: ctx.account.id, kind: this.id, secretSealed: null, now });
      await this.#deps.mailer.queue(
        ctx.repos.outbox,
        this.#deps.mailer.notice(ctx.account.email, ctx.lang, { key: 'mail.enrolled_email', name: ctx.account.name }),
        now,
      );
      return checked;
    },
  };

  remove(ctx: FactorContext): Promise<boolean> {
    return ctx.repos.factors.remove(ctx.account.id, this.id);
  }

  async enrollByOperator(ctx: FactorContext) {
    await ctx.repos.factors.put({ id: this.#deps.random.uuid(), accountId: ctx.account.id, kind: this.id, secretSealed: null, now: this.#deps.clock.now() });
    return {};
  }

  async #check(ctx: FactorContext, purpose: CodePurpose, code: string): Promise<Verification> {
    const codes = ctx.repos.codes;
    const result = await codes.check({
      ...scope(ctx, purpose),
      codeHashes: this.#deps.box.macs('otp', hashInput(ctx, purpose, code)),
      now: this.#deps.clock.now(),
      maxAttempts: this.#deps.rules.maxAttempts,
    });
    if (result.ok) return { ok: true };
    switch (result.reason) {
      case 'invalid':
        return refused('code.invalid', { left: result.attemptsLeft });
      case 'superseded':
        return refused('code.superseded', { tag: (await codes.live(scope(ctx, purpose)))?.tag ?? '' });
      case 'exhausted':
        await ctx.repos.audit.record({ type: 'code.exhausted', accountId: ctx.account.id, detail: { purpose } }, this.#deps.clock.now());
        return refused('code.exhausted');
      case 'expired':
        return refused('code.expired');
      case 'used':
      case 'none':
        return refused('code.none');
    }
  }

  async #send(ctx: FactorContext, purpose: CodePurpose): Promise<Notice> {
    const { clock, random, rules, mailer, box } = this.#deps;
    const { repos, account } = ctx;
    const now = clock.now();
    const previous = await repos.codes.live(scope(ctx, purpose));
    const tag = newTag(random, previous?.tag);
    const code = digits(random, 6);
    const result = await repos.codes.issue({ id: random.uuid(), ...scope(ctx, purpose), tag, codeHash: box.mac('otp', hashInput(ctx, purpose, code)), now, rules });
    if (!result.ok) {
      switch (result.reason) {
        case 'cooldown':
          return { key: 'code.cooldown', vars: { seconds: result.retryAfterSeconds }, error: true };
        case 'cap':
          return { key: 'code.cap', error: true };
        case 'exhausted':
          return { key: 'code.exhausted', error: true };
      }
    }
    const mail = mailer.code(account.email, ctx.lang, { kind: purpose, name: account.name, username: account.username, tag, code, minutes: Math.round(rules.ttlSeconds / 60) });
    await mailer.queue(repos.outbox, mail, now);
    await repos.audit.record({ type: 'code.sent', accountId: account.id, detail: { purpose, tag } }, now);
    return { key: previous ? 'email.resent' : 'email.sent' };
  }
}

function refused(key: string, vars?: Record<string, string | number>): Verification {
  return { ok: false, notice: { key, ...(vars && { vars }) } };
}

function scope(ctx: FactorContext, purpose: CodePurpose): CodeScope {
  return { purpose, flowId: ctx.flowId, accountId: ctx.account.id };
}

/** What is hashed: the code bound to its purpose, flow and account, worth nothing anywhere else. */
function hashInput(ctx: FactorContext, purpose: CodePurpose, code: string): string {
  return `${purpose}:${ctx.flowId}:${ctx.account.id}:${code}`;
}

/** Three random digits, never the same as the flow's previous tag. */
export function newTag(random: Random, previous: string | undefined): string {
  for (;;) {
    const tag = digits(random, 3);
    if (tag !== previous) return tag;
  }
}
