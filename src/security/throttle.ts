/**
 * Throttling of password and code guesses (SPEC §5), in Postgres so all replicas share it.
 * Keys: the username (normalized; unknown names are throttled exactly like known ones, so a
 * lock reveals nothing), the account's second factor, and the client IP.
 *
 * Every attempt is counted before it is checked, on all its keys in one statement: a burst of
 * parallel requests cannot slip past the limit, because each one is counted in turn and the one
 * that earns the lock sets it. A right answer is no failure: its bookkeeping (one statement)
 * forgets the username's or factor's count and takes back what it counted on the IP. Failures
 * count on while each comes within the window (30 min) of the one before; from the last free
 * one on, each failure locks the key for a doubling delay (30 s, 60 s, … up to 15 min, which
 * the window outlasts, so the locks keep their length). 100 failures in a row on a username or
 * a factor lock it for 24 hours (NIST SP 800-63B §5.2.2 caps guessing; the lock ends by itself,
 * or earlier by an operator's unlock), and every failure after that locks it again.
 *
 * No stranger can lock a citizen out with it: a browser that signed in to the account before
 * (kapu's signed device cookie) has a count of its own, which failures from elsewhere never
 * touch (and which is capped the same way); and from any browser, the password and the chosen
 * second factor proved together still get in (a guarded sign-in, src/auth/sign-in.ts), where a
 * wrong password leads to a proof that looks the same and never succeeds. IPv6 addresses are counted per /64, the block one
 * customer gets, so that rotating addresses within it gains nothing.
 */
import type { Clock } from '../clock.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import { type Counted, type CountRule, type FactorCount, type PasswordCount, type Settlement, type StepCount, type ThrottleRepository, principalOf } from '../db/repositories/throttle.ts';

export type { Counted, PasswordCount, Settlement, StepCount };

export interface ThrottlePolicy {
  windowSeconds: number;
  freeFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** Cap on failures in a row, or null for none (IP addresses). */
  maxConsecutive: number | null;
}

export const MAX_CONSECUTIVE_FAILURES = 100;
export const USER_POLICY: ThrottlePolicy = { windowSeconds: 30 * 60, freeFailures: 5, baseLockSeconds: 30, maxLockSeconds: 15 * 60, maxConsecutive: MAX_CONSECUTIVE_FAILURES };
/**
 * Second-factor guesses, per account. More generous than passwords: the emailed code has its
 * own per-code limit; this bounds TOTP guessing (a 6-digit code) across flows.
 */
export const FACTOR_POLICY: ThrottlePolicy = { windowSeconds: 30 * 60, freeFailures: 10, baseLockSeconds: 30, maxLockSeconds: 15 * 60, maxConsecutive: MAX_CONSECUTIVE_FAILURES };
/** Generous: many citizens share one address behind carrier-grade NAT. */
export const IP_POLICY: ThrottlePolicy = { windowSeconds: 15 * 60, freeFailures: 100, baseLockSeconds: 30, maxLockSeconds: 15 * 60, maxConsecutive: null };
/** How long the cap on failures in a row locks a key (unless an operator unlocks it sooner). */
export const HARD_LOCK_SECONDS = 24 * 60 * 60;

export function userKey(username: string): string {
  return `user:${normalizeUsername(username)}`;
}

export function factorKey(accountId: string): string {
  return `factor:${accountId}`;
}

/**
 * The account-less stand-in for a factor's count, per username: where a page must not tell
 * whether a name is anyone's (a guarded sign-in's wrong password, a forgotten password asked for
 * a name that is nobody's), guesses count on this as the real ones count on the account's.
 */
export function standInKey(username: string): string {
  return `stand-in:${normalizeUsername(username)}`;
}

/** The count of a browser that signed in to the account before (its device cookie's id). */
export function deviceKey(deviceId: string): string {
  return `device:${deviceId}`;
}

/** IPv4 as it is; IPv6 by its /64 (an IPv4-mapped IPv6 address is its IPv4 address). */
export function ipKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return `ip:${mapped[1]}`;
  if (!ip.includes(':')) return `ip:${ip}`;
  return `ip:${ipv6Prefix64(ip) ?? ip}`;
}

/** The first four groups of an IPv6 address, as `a:b:c:d::/64`; null when it does not parse. */
function ipv6Prefix64(ip: string): string | null {
  const address = ip.replace(/%.*$/, '').toLowerCase();
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // An embedded IPv4 tail counts as two groups.
  const groups = (parts: string[]) => parts.flatMap((p) => (p.includes('.') ? ['0', '0'] : [p]));
  const h = groups(head);
  const t = groups(tail);
  const missing = 8 - h.length - t.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const all = [...h, ...Array<string>(missing).fill('0'), ...t];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return `${all.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** An admitted attempt: already counted as a failure on each of its keys. */
export interface Attempt {
  /** The username's or the factor's key: what a right answer clears. */
  readonly principal: string;
  /** True when this attempt's count locked the principal (worth an audit event if it fails). */
  readonly locked: boolean;
  /**
   * The principal's failures so far (this one included) when this attempt locked it for the
   * first time in a run of failures, or hit the cap on failures in a row: worth a mail to the
   * citizen if it fails. Null otherwise.
   */
  readonly tell: number | null;
  readonly counted: readonly Counted[];
}

export class Throttle {
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Counts a password guess for `username` from `ip`; null when locked: refuse it unchecked.
   * `knownDevice`: the id of this browser's device cookie, when it signed in to this very
   * account before; its guesses are counted apart from everyone else's.
   */
  password(repo: ThrottleRepository, username: string, ip: string, knownDevice: string | null = null): Promise<Attempt | null> {
    return this.#admit(repo, knownDevice ? deviceKey(knownDevice) : userKey(username), USER_POLICY, ip);
  }

  /**
   * A password guess counted in the statement that reads the sign-in (as `password` counts it):
   * what that statement needs. `device`: this browser's device cookie, if it has one.
   */
  passwordCount(username: string, ip: string, device: { accountId: string; id: string } | null): PasswordCount {
    const now = this.#clock.now();
    return { kind: 'password', userKey: userKey(username), device: device && { accountId: device.accountId, key: deviceKey(device.id) }, rule: this.#rule(USER_POLICY, now), ip: { key: ipKey(ip), rule: this.#rule(IP_POLICY, now) }, now };
  }

  /**
   * A second factor's answer counted in the statement that reads the sign-in `flowId` (as
   * `factor` counts it), while the flow is at one of the `typed` factors (those the form answers).
   */
  factorCount(flowId: string, ip: string, typed: FactorCount['typed']): FactorCount {
    const now = this.#clock.now();
    return { kind: 'factor', prefix: factorKey(''), flowKey: factorKey(`flow:${flowId}`), typed, rule: this.#rule(FACTOR_POLICY, now), ip: { key: ipKey(ip), rule: this.#rule(IP_POLICY, now) }, now };
  }

  /** The attempt a `factorCount` made (`counted`), for the sign-in's account (null: none yet); null when locked. */
  factorAdmitted(repo: ThrottleRepository, count: FactorCount, accountId: string | null, counted: Counted[]): Promise<Attempt | null> {
    return this.#admitted(repo, accountId ? `${count.prefix}${accountId}` : count.flowKey, FACTOR_POLICY, 2, counted);
  }

  /** The attempt a `passwordCount` made (`counted`), for the account the username named; null when locked. */
  passwordAdmitted(repo: ThrottleRepository, count: PasswordCount, candidateId: string | null, counted: Counted[]): Promise<Attempt | null> {
    return this.#admitted(repo, principalOf(count, candidateId), USER_POLICY, 2, counted);
  }

  /**
   * A password typed for a locked username, to be proved with a second factor (a guarded
   * sign-in): counted on the IP alone, as the username's count stands locked. False when the IP
   * is locked too.
   */
  async guarded(repo: ThrottleRepository, ip: string): Promise<boolean> {
    const now = this.#clock.now();
    return (await repo.admit([{ key: ipKey(ip), rule: this.#rule(IP_POLICY, now) }], now)).length === 1;
  }

  /**
   * A mail asked for in a username's name (a forgotten password's code, a link past a lock):
   * counted on the IP like a guess, so a sprayer of names is slowed as a guesser is (the name's
   * own caps are the requests' table's). False when the IP is locked.
   */
  mailAsked(repo: ThrottleRepository, ip: string): Promise<boolean> {
    return this.guarded(repo, ip);
  }

  /** Counts a second-factor guess for an account from `ip`; null when locked. */
  factor(repo: ThrottleRepository, accountId: string, ip: string): Promise<Attempt | null> {
    return this.#admit(repo, factorKey(accountId), FACTOR_POLICY, ip);
  }

  /** The attempt was right: forget the principal's failures, take back the IP's count. */
  succeeded(repo: ThrottleRepository, attempt: Attempt): Promise<void> {
    const { clear, takeBack } = this.settlement(attempt);
    return repo.settle(clear, takeBack);
  }

  /** What was counted for an attempt that turned out to be no guess is taken back. */
  async uncount(repo: ThrottleRepository, attempt: Attempt): Promise<void> {
    await repo.settle([], attempt.counted);
  }

  /** What `succeeded` writes, for a statement that writes it with the rest of a step's end. */
  settlement(attempt: Attempt): Settlement {
    return { clear: [attempt.principal], takeBack: attempt.counted.filter((c) => c.key !== attempt.principal) };
  }

  /** Operator unlock: the username's password lock and, for an account, its factor lock. */
  unlock(repo: ThrottleRepository, username: string, accountId?: string): Promise<void> {
    return repo.clear(accountId ? [userKey(username), factorKey(accountId)] : [userKey(username)]);
  }

  lockedUntil(repo: ThrottleRepository, keys: string[]): Promise<Date | null> {
    return repo.lockedUntil(keys, this.#clock.now());
  }

  async #admit(repo: ThrottleRepository, principal: string, policy: ThrottlePolicy, ip: string): Promise<Attempt | null> {
    const now = this.#clock.now();
    const keys = [
      { key: principal, rule: this.#rule(policy, now) },
      { key: ipKey(ip), rule: this.#rule(IP_POLICY, now) },
    ];
    return this.#admitted(repo, principal, policy, keys.length, await repo.admit(keys, now));
  }

  async #admitted(repo: ThrottleRepository, principal: string, policy: ThrottlePolicy, keys: number, counted: Counted[]): Promise<Attempt | null> {
    if (counted.length < keys) {
      // A locked key refuses the attempt: what the others counted is taken back.
      if (counted.length > 0) await repo.settle([], counted);
      return null;
    }
    const mine = counted.find((c) => c.key === principal);
    const capped = policy.maxConsecutive !== null && mine?.consecutive === policy.maxConsecutive;
    const firstLock = mine?.lockedNow === true && mine.failures === policy.freeFailures;
    return { principal, locked: mine?.lockedNow ?? false, tell: mine && (capped || firstLock) ? mine.consecutive : null, counted };
  }

  #rule(policy: ThrottlePolicy, now: Date): CountRule {
    return {
      windowStart: new Date(now.getTime() - policy.windowSeconds * 1000),
      freeFailures: policy.freeFailures,
      baseLockSeconds: policy.baseLockSeconds,
      maxLockSeconds: policy.maxLockSeconds,
      maxConsecutive: policy.maxConsecutive,
      hardLockUntil: new Date(now.getTime() + HARD_LOCK_SECONDS * 1000),
    };
  }
}
