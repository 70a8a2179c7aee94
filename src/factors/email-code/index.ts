/**
 * Ügyfélkapu+ with an emailed code (SPEC §1.4, §3): a 6-digit code sent by mail with a
 * 3-digit session tag (munkamenet-azonosító) that the sign-in page shows too, so the person
 * can tell which mail belongs to which sign-in. Only the keyed hash of a code is stored.
 */
import { type Clock, type Random, digits } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import type { CodeRules, CodeScope, OneTimeCodesRepository } from '../../db/repositories/one-time-codes.ts';
import type { FactorsRepository } from '../../db/repositories/factors.ts';
import type { AuditRepository } from '../../db/repositories/audit.ts';
import type { MailOutbox } from '../../mail/outbox.ts';
import type { SecretBox } from '../../security/secret-box.ts';
import type { Views } from '../../views.ts';
import { type Factor, type FactorAccount, type FactorContext, type FactorPage, type Notice, type VerifyOutcome, normalizeCode } from '../factor.ts';

export const EMAIL_FACTOR_ID = 'email';
/** kapu's `amr` for the emailed code: RFC 8176 has no value for it (documented in README). */
export const EMAIL_AMR = 'email';
const PURPOSE = 'signin';

export interface EmailCodeDeps {
  codes: OneTimeCodesRepository;
  factors: FactorsRepository;
  audit: AuditRepository;
  outbox: MailOutbox;
  box: SecretBox;
  views: Views;
  clock: Clock;
  random: Random;
  rules: CodeRules;
}

export class EmailCodeFactor implements Factor {
  readonly id = EMAIL_FACTOR_ID;
  readonly amr = EMAIL_AMR;
  readonly labelKey = 'factor.email';
  readonly #deps: EmailCodeDeps;

  constructor(deps: EmailCodeDeps) {
    this.#deps = deps;
  }

  async begin(ctx: FactorContext): Promise<Notice | null> {
    // Coming back to this factor (after switching away) reuses a live code rather than
    // spamming the inbox; the cool-down would refuse a new one anyway.
    const live = await this.#deps.codes.current(scope(ctx));
    if (live && live.expires_at > this.#deps.clock.now()) return null;
    return this.#send(ctx);
  }

  resend = (ctx: FactorContext): Promise<Notice> => this.#send(ctx);

  async page(ctx: FactorContext): Promise<FactorPage> {
    const live = await this.#deps.codes.current(scope(ctx));
    return {
      template: 'factors/email',
      data: { username: ctx.account.username, tag: live?.tag ?? '' },
      // No code yet (the first one was refused, e.g. by the hourly cap): say how to get one.
      ...(!live && { notice: { key: 'code.none' } }),
    };
  }

  async verify(ctx: FactorContext, input: string): Promise<VerifyOutcome> {
    const code = normalizeCode(input);
    if (!code) return { ok: false, error: { key: 'code.format' }, malformed: true };
    const result = await this.#deps.codes.check({
      ...scope(ctx),
      codeHashes: this.#deps.box.macs('otp', hashInput(ctx, code)),
      now: this.#deps.clock.now(),
      maxAttempts: this.#deps.rules.maxAttempts,
    });
    if (result.ok) return { ok: true };
    switch (result.reason) {
      case 'invalid':
        return { ok: false, error: { key: 'code.invalid', vars: { left: result.attemptsLeft } } };
      case 'superseded': {
        const live = await this.#deps.codes.current(scope(ctx));
        return { ok: false, error: { key: 'code.superseded', vars: { tag: live?.tag ?? '' } } };
      }
      case 'exhausted':
        await this.#deps.audit.record({ type: 'code.exhausted', accountId: ctx.account.id }, this.#deps.clock.now());
        return { ok: false, error: { key: 'code.exhausted' } };
      case 'expired':
        return { ok: false, error: { key: 'code.expired' } };
      case 'used':
        return { ok: false, error: { key: 'code.none' }, usedInThisFlow: true };
      case 'none':
        return { ok: false, error: { key: 'code.none' } };
    }
  }

  async enrollByOperator(account: FactorAccount) {
    await this.#deps.factors.put({
      id: this.#deps.random.uuid(),
      accountId: account.id,
      kind: this.id,
      secretSealed: null,
      now: this.#deps.clock.now(),
    });
    return {};
  }

  async #send(ctx: FactorContext): Promise<Notice> {
    const { codes, clock, random, rules, outbox, views } = this.#deps;
    const now = clock.now();
    const previous = await codes.current(scope(ctx));
    const tag = newTag(random, previous?.tag);
    const code = digits(random, 6);
    const t = views.translator(ctx.lang);
    const data = {
      name: ctx.account.name,
      username: ctx.account.username,
      tag,
      code,
      minutes: Math.round(rules.ttlSeconds / 60),
    };
    const result = await codes.issue(
      { id: random.uuid(), ...scope(ctx), tag, codeHash: this.#deps.box.mac('otp', hashInput(ctx, code)), now, rules },
      (trx: Db) =>
        outbox.enqueue(
          trx,
          {
            to: ctx.account.email,
            subject: t('mail.signin.subject'),
            text: views.render('mail/signin-code-text', ctx.lang, data),
            html: views.render('mail/signin-code-html', ctx.lang, data),
          },
          now,
        ),
    );
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
    outbox.queued();
    await this.#deps.audit.record({ type: 'code.sent', accountId: ctx.account.id, detail: { purpose: PURPOSE, tag } }, now);
    return { key: previous ? 'email.resent' : 'email.sent' };
  }
}

function scope(ctx: FactorContext): CodeScope {
  return { purpose: PURPOSE, flowId: ctx.flowId, accountId: ctx.account.id };
}

/** What is hashed: the code bound to its flow and account, worth nothing anywhere else. */
function hashInput(ctx: FactorContext, code: string): string {
  return `${PURPOSE}:${ctx.flowId}:${ctx.account.id}:${code}`;
}

/** Three random digits, never the same as the flow's previous tag. */
export function newTag(random: Random, previous: string | undefined): string {
  for (;;) {
    const tag = digits(random, 3);
    if (tag !== previous) return tag;
  }
}
