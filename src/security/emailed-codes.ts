/**
 * One-time codes sent by email (SPEC §3), for whatever they prove: a sign-in, a factor being set
 * up, a forgotten password, a new email address. A code is 6 digits from a CSPRNG, mailed with
 * a 3-digit tag, stored only as a keyed hash bound to its purpose, flow and account, and checked
 * by the rules in OneTimeCodesRepository. The mail is queued in the caller's unit of work, in the
 * statement that stores the code.
 */
import { type Clock, type Random, digits } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { AuditEvent } from '../db/repositories/audit.ts';
import type { CodePurpose, CodeRules, CodeScope, LiveCode } from '../db/repositories/one-time-codes.ts';
import type { MailRequest, Notice, Verification } from '../factors/context.ts';
import { type Mailer, NOBODY } from '../mail/mailer.ts';
import type { Lang } from '../views.ts';
import type { SecretBox } from './secret-box.ts';

export interface CodeRecipient {
  id: string;
  username: string;
  name: string;
  /** Where the code goes: the account's address, or (a change of address) the new one. */
  email: string;
}

export interface EmailedCodesDeps {
  mailer: Mailer;
  box: SecretBox;
  clock: Clock;
  random: Random;
  rules: CodeRules;
}

export class EmailedCodes {
  readonly #deps: EmailedCodesDeps;

  constructor(deps: EmailedCodesDeps) {
    this.#deps = deps;
  }

  get rules(): CodeRules {
    return this.#deps.rules;
  }

  /** A code's lifetime in whole minutes, as its mail and the pages that ask for it say it. */
  get minutes(): number {
    return Math.round(this.#deps.rules.ttlSeconds / 60);
  }

  /**
   * The tag of a new password's code, derived from its flow (a keyed hash: random to anyone
   * else): a forgotten password's page shows it whether or not a code went out — it must not
   * tell whether the username exists — the same on every reload, and without a read. Such a
   * flow gets one code (no resend), so there is no earlier tag to differ from. (A key rotation
   * between the mail and a reload changes it; the code still works.)
   */
  flowTag(flowId: string): string {
    return flowTag(this.#deps.box, flowId);
  }

  /** The live code of a flow, if any: its tag and expiry. */
  live(repos: Repos, purpose: CodePurpose, flowId: string, accountId: string) {
    return repos.codes.live({ purpose, flowId, accountId });
  }

  /**
   * The live code of a flow, if any, read where a code may be sent next in the same unit of work:
   * the account's code lock is taken with the read, and `send` is told (`{ live, locked: true }`).
   */
  liveBeforeSend(repos: Repos, purpose: CodePurpose, flowId: string, accountId: string) {
    return repos.codes.liveLocking({ purpose, flowId, accountId });
  }

  /**
   * Issues a code and queues its mail. Refused by the cool-down, the hourly cap, or a flow
   * whose tries are used up: the notice says which (never "sent").
   */
  async send(repos: Repos, purpose: CodePurpose, flowId: string, to: CodeRecipient, lang: Lang, request?: MailRequest, known?: { live: LiveCode | undefined; locked: boolean }): Promise<Notice> {
    const { clock, random, rules, mailer, box } = this.#deps;
    const now = clock.now();
    const scope: CodeScope = { purpose, flowId, accountId: to.id };
    // The live code, unless the caller has just read it (`liveBeforeSend`, which took the lock too).
    const previous = known ? known.live : await repos.codes.live(scope);
    const tag = purpose === 'reset' ? this.flowTag(flowId) : newTag(random, previous?.tag);
    const code = digits(random, 6);
    const mail = mailer.code(to.email, lang, {
      kind: purpose,
      name: to.name,
      username: to.username,
      tag,
      code,
      minutes: this.minutes,
      at: now,
      service: request?.service ?? null,
      browser: request?.browser ?? null,
    });
    // The code, its mail and its audit event are stored in one statement (or none of them).
    const event: AuditEvent = { type: 'code.sent', accountId: to.id, detail: { purpose, tag } };
    const result = await repos.codes.issue({ id: random.uuid(), ...scope, tag, codeHash: box.mac('otp', hashInput(scope, code)), now, rules, mail: mailer.seal(mail), event, locked: known?.locked ?? false });
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
    return { key: previous ? 'email.resent' : 'email.sent' };
  }

  /**
   * A guarded sign-in's code (under a username lock): mailed to `to` when the password was right;
   * when `to` is null, a stand-in mail is queued to NOBODY (the sender drops it unsent). Either
   * way the same statements run, /metrics counts the same, and the same state comes back, to
   * keep on the flow; only the audit log says which it was.
   */
  async sendGuarded(repos: Repos, flowId: string, to: CodeRecipient | null, lang: Lang, request?: MailRequest): Promise<string> {
    const { clock, random, rules, mailer, box } = this.#deps;
    const now = clock.now();
    const tag = newTag(random, undefined);
    const code = digits(random, 6);
    const state: GuardedCode = { tag, hash: box.mac('otp', guardedInput(flowId, to ? code : random.uuid())), expiresAt: now.getTime() + rules.ttlSeconds * 1000, tries: 0 };
    const mail = mailer.code(to?.email ?? NOBODY, lang, { kind: 'signin', name: to?.name ?? '', username: to?.username ?? '', tag, code, minutes: this.minutes, at: now, service: request?.service ?? null, browser: request?.browser ?? null });
    await mailer.queue(repos.outbox, mail, now);
    const detail = { purpose: 'signin', tag, guarded: true };
    await repos.audit.record(to ? { type: 'code.sent', accountId: to.id, detail, seenAs: 'code.guarded' } : { type: 'code.withheld', accountId: null, detail, seenAs: 'code.guarded' }, now);
    return JSON.stringify(state);
  }

  /** Where a guarded sign-in's code stands: its tag, and whether it can still be typed. */
  guardedState(kept: string): { tag: string; dead: boolean; expired: boolean } {
    const state = JSON.parse(kept) as GuardedCode;
    return { tag: state.tag, dead: state.tries >= this.#deps.rules.maxAttempts, expired: state.expiresAt <= this.#deps.clock.now().getTime() };
  }

  /** Checks a guarded sign-in's code: the same rules as any code (expiry, tries), one code per sign-in. */
  async checkGuarded(flowId: string, kept: string, code: string): Promise<{ verification: Verification; kept: string }> {
    const state = JSON.parse(kept) as GuardedCode;
    const { maxAttempts } = this.#deps.rules;
    if (state.tries >= maxAttempts) return { verification: refused('guarded.code_exhausted'), kept };
    if (state.expiresAt <= this.#deps.clock.now().getTime()) return { verification: refused('guarded.code_expired'), kept };
    if (this.#deps.box.macs('otp', guardedInput(flowId, code)).includes(state.hash)) return { verification: { ok: true }, kept };
    const tried = { ...state, tries: state.tries + 1 };
    const left = maxAttempts - tried.tries;
    return { verification: left > 0 ? refused('code.invalid', { left }) : refused('guarded.code_exhausted'), kept: JSON.stringify(tried) };
  }

  /**
   * Checks a typed code against the flow's live code; a right one is used up (and `touch`, the
   * factor it proves, marked used with it), or with `unspent`, handed back to be used up by the
   * statement that ends the sign-in (`spend`); a code used up already is then `spent`.
   */
  async check(repos: Repos, purpose: CodePurpose, flowId: string, accountId: string, code: string, touch?: string, unspent = false): Promise<Verification> {
    const scope: CodeScope = { purpose, flowId, accountId };
    const now = this.#deps.clock.now();
    const result = await repos.codes.check({ ...scope, codeHashes: this.#deps.box.macs('otp', hashInput(scope, code)), now, maxAttempts: this.#deps.rules.maxAttempts, ...(touch !== undefined && { touch }), unspent });
    if (result.ok) return unspent && result.id ? { ok: true, spend: { code: result.id, ...(touch !== undefined && { touch }) } } : { ok: true };
    // Unspent codes are used up only by the end of their own sign-in: this one is over.
    if (unspent && result.reason === 'used') return { ok: false, notice: { key: 'code.none' }, spent: true };
    switch (result.reason) {
      case 'invalid':
        return refused('code.invalid', { left: result.attemptsLeft });
      case 'superseded':
        return refused('code.superseded', { tag: (await repos.codes.live(scope))?.tag ?? '' });
      case 'exhausted':
        await repos.audit.record({ type: 'code.exhausted', accountId, detail: { purpose } }, now);
        return refused('code.exhausted');
      case 'expired':
        return refused('code.expired');
      case 'used':
      case 'none':
        return refused('code.none');
    }
  }
}

/** A guarded sign-in's code, as kept on its flow. */
interface GuardedCode {
  tag: string;
  /** Keyed hash of the code; a stand-in's is of something no one can type. */
  hash: string;
  expiresAt: number;
  tries: number;
}

function refused(key: string, vars?: Record<string, string | number>): Verification {
  return { ok: false, notice: { key, ...(vars && { vars }) } };
}

/** What is hashed: the code bound to its purpose, flow and account, worth nothing anywhere else. */
function hashInput(scope: CodeScope, code: string): string {
  return `${scope.purpose}:${scope.flowId}:${scope.accountId}:${code}`;
}

function guardedInput(flowId: string, code: string): string {
  return `guarded:${flowId}:${code}`;
}

/**
 * A flow's munkamenet-azonosító derived from its id by a keyed hash, for flows with one code
 * (a forgotten password, a password change): the page can show it without reading anything, the
 * same for any username.
 */
export function flowTag(box: SecretBox, flowId: string): string {
  const n = Buffer.from(box.mac('reset-tag', flowId), 'base64url').readUInt32BE(0) % 1000;
  return String(n).padStart(3, '0');
}

/** Three random digits, never the same as the flow's previous tag. */
export function newTag(random: Random, previous: string | undefined): string {
  for (;;) {
    const tag = digits(random, 3);
    if (tag !== previous) return tag;
  }
}
