/**
 * Mail asked for in a username's name, before anything proves who asks: a forgotten password's
 * code, a link that lets one browser past a username lock. This is the one way such a request is
 * made, so that it does the same work and gives the same answer whether the name is anyone's
 * (SPEC §5: not the page, not the statements, not /metrics):
 * - the asker's address is counted like a guess (a sprayer of names is slowed as a guesser is);
 * - the account is looked up for every name (an active one only: a disabled account is nobody's);
 * - the request, its mail and its audit event are written together — for a name that is nobody's
 *   a stand-in: no account, a secret nobody has, a mail to NOBODY that the sender drops unsent;
 * - a name gets at most CODE_MAX_PER_HOUR requests an hour, and PER_NAME_AND_ADDRESS of them from
 *   one address, so that a stranger asking in a citizen's name uses up only their own share.
 * Only the audit log, which operators read, says which requests were real.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock, Random } from '../clock.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { RecoveryKind } from '../db/repositories/recovery-requests.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorAccount } from '../factors/factor.ts';
import { type MailMessage, type Mailer, NOBODY } from '../mail/mailer.ts';
import { flowTag } from '../security/emailed-codes.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { type Throttle, ipKey } from '../security/throttle.ts';
import type { Who } from './who.ts';

/** Requests a name may make in an hour from one address (its share of CODE_MAX_PER_HOUR). */
export const PER_NAME_AND_ADDRESS = 3;

export interface RecoveryRequestsDeps {
  uow: UnitOfWork<Repos>;
  throttle: Throttle;
  mailer: Mailer;
  box: SecretBox;
  clock: Clock;
  random: Random;
  /** How long a request's code or link lives (CODE_TTL_SECONDS). */
  ttlSeconds: number;
  /** Requests a name may make in an hour (CODE_MAX_PER_HOUR). */
  perNamePerHour: number;
}

export interface Ask {
  kind: RecoveryKind;
  /** As typed (trimmed, bounded by the caller). */
  username: string;
  who: Who;
  /** An unlock link's binding to the browser that asked (the keyed hash of its cookie). */
  browserHash?: string | null;
  /** The sign-in an unlock link was asked from. */
  flowId?: string | null;
  /**
   * The request's secret (the code or the link's token) and its mail to `to`. For a stand-in
   * `to` is null: the mail is composed all the same (and sent to nobody), its secret never kept.
   */
  make(request: { id: string; tag: string; to: FactorAccount | null }): { secret: string; message: MailMessage };
}

export type Asked = { ok: true; id: string; tag: string } | { ok: false };

export class RecoveryRequests {
  readonly #deps: RecoveryRequestsDeps;

  constructor(deps: RecoveryRequestsDeps) {
    this.#deps = deps;
  }

  get ttlSeconds(): number {
    return this.#deps.ttlSeconds;
  }

  /** The munkamenet-azonosító of request `id`, as its mail quotes it. */
  tagOf(id: string): string {
    return flowTag(this.#deps.box, id);
  }

  /** Makes a request (see above); `ok: false` when the address or the name has asked too often. */
  async ask(ask: Ask): Promise<Asked> {
    const { uow, throttle, mailer, box, clock, random, ttlSeconds, perNamePerHour } = this.#deps;
    if (!(await throttle.mailAsked(uow.repos.throttle, ask.who.ip))) return { ok: false };
    const found = await uow.repos.accounts.findActiveByUsername(ask.username);
    const to = found ? { id: found.id, username: found.username, name: found.name, email: found.email } : null;
    const id = random.uuid();
    // The page that follows shows the tag without a read (tagOf), the same for any name.
    const tag = this.tagOf(id);
    const made = ask.make({ id, tag, to });
    // A stand-in keeps the hash of a secret nobody was given, and its mail goes to nobody.
    const secretHash = box.mac('recovery', secretInput(id, to ? made.secret : random.bytes(32).toString('base64url')));
    const message = to ? made.message : { ...made.message, to: NOBODY };
    const now = clock.now();
    return uow.transaction(async (r) => {
      const request = {
        id,
        kind: ask.kind,
        username: normalizeUsername(ask.username),
        accountId: to?.id ?? null,
        ipKey: ipKey(ask.who.ip),
        tag,
        secretHash,
        browserHash: ask.browserHash ?? null,
        flowId: ask.flowId ?? null,
        now,
        expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      };
      if (!(await r.recovery.create(request, { perName: perNamePerHour, perNameAndAddress: PER_NAME_AND_ADDRESS }))) return { ok: false };
      await mailer.queue(r.outbox, message, now);
      const detail = { purpose: ask.kind, tag };
      const seenAs = ask.kind === 'reset' ? 'reset.asked' : 'unlock.asked';
      await r.audit.record(
        to ? { type: 'code.sent', accountId: to.id, ip: ask.who.ip, detail, seenAs } : { type: 'code.withheld', accountId: null, ip: ask.who.ip, detail, seenAs },
        now,
      );
      return { ok: true, id, tag };
    });
  }

  /** The keyed hashes (under every configured key) a request's secret would be stored as. */
  hashes(id: string, secret: string): string[] {
    return this.#deps.box.macs('recovery', secretInput(id, secret));
  }

  /** Does `secret` match what the request `id` keeps (compared in constant time)? */
  matches(id: string, secret: string, stored: string): boolean {
    const kept = Buffer.from(stored);
    return this.hashes(id, secret).some((h) => {
      const b = Buffer.from(h);
      return b.length === kept.length && timingSafeEqual(b, kept);
    });
  }
}

/** What is hashed: the secret bound to its request, worth nothing anywhere else. */
function secretInput(id: string, secret: string): string {
  return `${id}:${secret}`;
}
