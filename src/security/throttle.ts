/**
 * Throttling of password and code guesses (SPEC §5), in Postgres so all replicas share it.
 * Two keys per attempt: the username (normalized; unknown names are throttled exactly like
 * known ones, so a lock reveals nothing) and the client IP.
 *
 * Each key gets a number of free failures per window; past that, every failure locks the key
 * for a doubling delay (30 s, 60 s, … up to 15 min). A username with 100 failures in a row
 * without a success is locked until an operator unlocks it (NIST SP 800-63B §5.2.2).
 */
import type { Clock } from '../clock.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import type { ThrottleRepository } from '../db/repositories/throttle.ts';

export interface ThrottlePolicy {
  windowSeconds: number;
  freeFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
}

export const USER_POLICY: ThrottlePolicy = { windowSeconds: 15 * 60, freeFailures: 5, baseLockSeconds: 30, maxLockSeconds: 15 * 60 };
/** Generous: many citizens share one address behind carrier-grade NAT. */
export const IP_POLICY: ThrottlePolicy = { windowSeconds: 15 * 60, freeFailures: 100, baseLockSeconds: 30, maxLockSeconds: 15 * 60 };
/**
 * Second-factor guesses, per account. More generous than passwords: the emailed code has its
 * own per-code limit; this bounds TOTP guessing (a 6-digit code) across flows.
 */
export const FACTOR_POLICY: ThrottlePolicy = { windowSeconds: 15 * 60, freeFailures: 10, baseLockSeconds: 30, maxLockSeconds: 15 * 60 };
export const MAX_CONSECUTIVE_FAILURES = 100;
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

export class Throttle {
  readonly #repo: ThrottleRepository;
  readonly #clock: Clock;

  constructor(repo: ThrottleRepository, clock: Clock) {
    this.#repo = repo;
    this.#clock = clock;
  }

  /** The time until which any of the keys is locked, or null to go ahead. */
  lockedUntil(keys: string[]): Promise<Date | null> {
    return this.#repo.lockedUntil(keys, this.#clock.now());
  }

  /** Records a failure on the user key and the IP key; returns true when this locked the user. */
  async failed(username: string, ip: string): Promise<boolean> {
    const [user] = await Promise.all([this.#count(userKey(username), USER_POLICY, true), this.#count(ipKey(ip), IP_POLICY, false)]);
    return user;
  }

  /** Records a wrong second-factor answer; returns true when this locked the account's factors. */
  async factorFailed(accountId: string, ip: string): Promise<boolean> {
    const [locked] = await Promise.all([this.#count(factorKey(accountId), FACTOR_POLICY, true), this.#count(ipKey(ip), IP_POLICY, false)]);
    return locked;
  }

  /** A finished sign-in clears the account's counters (the IP's keep counting down by time). */
  async succeeded(username: string, accountId: string): Promise<void> {
    await this.#repo.clear(userKey(username));
    await this.#repo.clear(factorKey(accountId));
  }

  /** Operator unlock: the username's password lock and, for an account, its factor lock. */
  async unlock(username: string, accountId?: string): Promise<void> {
    await this.#repo.clear(userKey(username));
    if (accountId) await this.#repo.clear(factorKey(accountId));
  }

  async #count(key: string, policy: ThrottlePolicy, capConsecutive: boolean): Promise<boolean> {
    const now = this.#clock.now();
    const { failures, consecutive } = await this.#repo.fail(key, now, new Date(now.getTime() - policy.windowSeconds * 1000));
    let until: Date | null = null;
    if (capConsecutive && consecutive >= MAX_CONSECUTIVE_FAILURES) until = HARD_LOCK;
    else if (failures >= policy.freeFailures) {
      const seconds = Math.min(policy.maxLockSeconds, policy.baseLockSeconds * 2 ** (failures - policy.freeFailures));
      until = new Date(now.getTime() + seconds * 1000);
    }
    if (until) await this.#repo.lock(key, until, now);
    return until !== null;
  }
}
