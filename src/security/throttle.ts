/**
 * Throttling of password and code guesses (SPEC §5), in Postgres so all replicas share it.
 * Keys: the username (normalized; unknown names are throttled exactly like known ones, so a
 * lock reveals nothing), the account's second factor, and the client IP.
 *
 * Every attempt is counted before it is checked, in one statement per key: a burst of parallel
 * requests cannot slip past the limit, because each one is counted in turn and the one that
 * earns the lock sets it. An attempt that succeeds is taken back. Failures count on while each
 * comes within the window (30 min) of the one before; from the last free one on, each failure
 * locks the key for a doubling delay (30 s, 60 s, … up to 15 min, which the window outlasts, so
 * the locks keep their length). 100 failures in a row on a username or a factor lock it until
 * an operator unlocks it (NIST SP 800-63B §5.2.2).
 */
import type { Clock } from '../clock.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import type { ThrottleRepository } from '../db/repositories/throttle.ts';

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
/** "Until an operator unlocks it." */
const HARD_LOCK = new Date('9999-12-31T00:00:00Z');

export function userKey(username: string): string {
  return `user:${normalizeUsername(username)}`;
}

export function factorKey(accountId: string): string {
  return `factor:${accountId}`;
}

export function ipKey(ip: string): string {
  return `ip:${ip}`;
}

/** An admitted attempt: already counted as a failure unless released. */
export interface Attempt {
  /** True when this attempt's count locked its key (worth an audit event if it fails). */
  readonly locked: boolean;
  /** The attempt was not a failure (right password, malformed input): take the count back. */
  release(): Promise<void>;
}

export class Throttle {
  readonly #repo: ThrottleRepository;
  readonly #clock: Clock;

  constructor(repo: ThrottleRepository, clock: Clock) {
    this.#repo = repo;
    this.#clock = clock;
  }

  /** Admits a password attempt for `username` from `ip`, or null: locked, refuse unchecked. */
  password(username: string, ip: string): Promise<Attempt | null> {
    return this.#admit([
      [userKey(username), USER_POLICY],
      [ipKey(ip), IP_POLICY],
    ]);
  }

  /** Admits a second-factor attempt for an account from `ip`, or null: locked. */
  factor(accountId: string, ip: string): Promise<Attempt | null> {
    return this.#admit([
      [factorKey(accountId), FACTOR_POLICY],
      [ipKey(ip), IP_POLICY],
    ]);
  }

  lockedUntil(keys: string[]): Promise<Date | null> {
    return this.#repo.lockedUntil(keys, this.#clock.now());
  }

  /**
   * A finished sign-in clears the username's counter, and the factor's when one was used
   * (`accountId`); the IP's run out with time.
   */
  async succeeded(username: string, accountId: string | null): Promise<void> {
    await this.#repo.clear(userKey(username));
    if (accountId) await this.#repo.clear(factorKey(accountId));
  }

  /** Operator unlock: the username's password lock and, for an account, its factor lock. */
  async unlock(username: string, accountId?: string): Promise<void> {
    await this.#repo.clear(userKey(username));
    if (accountId) await this.#repo.clear(factorKey(accountId));
  }

  /** Counts on each key in turn; a locked key refuses, and what was counted is taken back. */
  async #admit(keys: Array<[string, ThrottlePolicy]>): Promise<Attempt | null> {
    const now = this.#clock.now();
    const counted: Array<{ key: string; lockedNow: boolean }> = [];
    for (const [key, policy] of keys) {
      const result = await this.#repo.admit(key, now, {
        windowStart: new Date(now.getTime() - policy.windowSeconds * 1000),
        freeFailures: policy.freeFailures,
        baseLockSeconds: policy.baseLockSeconds,
        maxLockSeconds: policy.maxLockSeconds,
        maxConsecutive: policy.maxConsecutive,
        hardLockUntil: HARD_LOCK,
      });
      if (!result) {
        for (const c of counted) await this.#repo.release(c.key, c.lockedNow);
        return null;
      }
      counted.push({ key, lockedNow: result.lockedNow });
    }
    const repo = this.#repo;
    return {
      locked: counted[0]?.lockedNow ?? false,
      async release() {
        for (const c of counted) await repo.release(c.key, c.lockedNow);
      },
    };
  }
}
