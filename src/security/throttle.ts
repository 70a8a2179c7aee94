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
 * a factor lock it until an operator unlocks it (NIST SP 800-63B §5.2.2).
 */
import type { Clock } from '../clock.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import type { Counted, CountRule, ThrottleRepository } from '../db/repositories/throttle.ts';

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

/** An admitted attempt: already counted as a failure on each of its keys. */
export interface Attempt {
  /** The username's or the factor's key: what a right answer clears. */
  readonly principal: string;
  /** True when this attempt's count locked the principal (worth an audit event if it fails). */
  readonly locked: boolean;
  readonly counted: readonly Counted[];
}

export class Throttle {
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Counts a password guess for `username` from `ip`; null when locked: refuse it unchecked. */
  password(repo: ThrottleRepository, username: string, ip: string): Promise<Attempt | null> {
    return this.#admit(repo, userKey(username), USER_POLICY, ip);
  }

  /** Counts a second-factor guess for an account from `ip`; null when locked. */
  factor(repo: ThrottleRepository, accountId: string, ip: string): Promise<Attempt | null> {
    return this.#admit(repo, factorKey(accountId), FACTOR_POLICY, ip);
  }

  /** The attempt was right: forget the principal's failures, take back the IP's count. */
  succeeded(repo: ThrottleRepository, attempt: Attempt): Promise<void> {
    return repo.settle(
      [attempt.principal],
      attempt.counted.filter((c) => c.key !== attempt.principal),
    );
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
    const counted = await repo.admit(keys, now);
    if (counted.length < keys.length) {
      // A locked key refuses the attempt: what the others counted is taken back.
      if (counted.length > 0) await repo.settle([], counted);
      return null;
    }
    return { principal, locked: counted.find((c) => c.key === principal)?.lockedNow ?? false, counted };
  }

  #rule(policy: ThrottlePolicy, now: Date): CountRule {
    return {
      windowStart: new Date(now.getTime() - policy.windowSeconds * 1000),
      freeFailures: policy.freeFailures,
      baseLockSeconds: policy.baseLockSeconds,
      maxLockSeconds: policy.maxLockSeconds,
      maxConsecutive: policy.maxConsecutive,
      hardLockUntil: HARD_LOCK,
    };
  }
}
