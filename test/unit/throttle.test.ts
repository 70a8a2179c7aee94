/**
 * The throttle's rules that live outside its SQL (SPEC §5): which keys a guess counts on, what
 * a refused or a right guess takes back, and when the citizen is to be told. The counting
 * itself is one statement in Postgres and is tested there (test/integration, test/e2e).
 */
import type { Counted, CountRule, ThrottleRepository } from '../../src/db/repositories/throttle.ts';
import { FACTOR_POLICY, MAX_CONSECUTIVE_FAILURES, Throttle, USER_POLICY, deviceKey, factorKey, ipKey, userKey } from '../../src/security/throttle.ts';

const NOW = new Date('2026-12-07T10:00:00Z');

describe('throttle keys', () => {
  test('a username is counted however it is typed', () => {
    expect(userKey(' Kovacs.Anna ')).toBe(userKey('kovacs.anna'));
  });

  test.each([
    ['192.0.2.10', 'ip:192.0.2.10'],
    ['::ffff:192.0.2.10', 'ip:192.0.2.10'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', 'ip:2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', 'ip:2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:0:0:0:9%eth0', 'ip:2001:db8:1:2::/64'],
    ['::1', 'ip:0:0:0:0::/64'],
  ])('the address %s counts as %s (IPv6 by its /64)', (ip, key) => {
    expect(ipKey(ip)).toBe(key);
  });

  test('an IPv6 address that does not parse is counted as it is, never dropped', () => {
    expect(ipKey('2001:db8::1::2')).toBe('ip:2001:db8::1::2');
  });
});

/** A repository that answers as told and remembers what was asked of it. */
class FakeRepository {
  admitted: Array<Array<{ key: string; rule: CountRule }>> = [];
  settled: Array<{ clear: readonly string[]; takeBack: readonly Counted[] }> = [];
  #answer: (key: string) => Counted | null;

  constructor(answer: (key: string) => Counted | null) {
    this.#answer = answer;
  }

  async admit(keys: Array<{ key: string; rule: CountRule }>): Promise<Counted[]> {
    this.admitted.push(keys);
    return keys.map((k) => this.#answer(k.key)).filter((c): c is Counted => c !== null);
  }

  async settle(clear: readonly string[], takeBack: readonly Counted[]): Promise<void> {
    this.settled.push({ clear, takeBack });
  }

  get repo(): ThrottleRepository {
    return this as unknown as ThrottleRepository;
  }
}

const counted = (key: string, failures = 1, consecutive = failures, lockedNow = false): Counted => ({ key, failures, consecutive, lockedNow });
const throttle = new Throttle({ now: () => NOW });

describe('a password guess', () => {
  test('counts on the username and the address, with their own rules', async () => {
    const fake = new FakeRepository((key) => counted(key));
    const attempt = await throttle.password(fake.repo, 'kovacs.anna', '192.0.2.10');
    expect(fake.admitted[0]!.map((k) => k.key)).toEqual(['user:kovacs.anna', 'ip:192.0.2.10']);
    expect(fake.admitted[0]![0]!.rule.freeFailures).toBe(USER_POLICY.freeFailures);
    expect(attempt).toMatchObject({ principal: 'user:kovacs.anna', locked: false, tell: null });
  });

  test("from a browser that signed in to the account before, it counts on that browser's key instead", async () => {
    const fake = new FakeRepository((key) => counted(key));
    await throttle.password(fake.repo, 'kovacs.anna', '192.0.2.10', 'device-1');
    expect(fake.admitted[0]!.map((k) => k.key)).toEqual([deviceKey('device-1'), 'ip:192.0.2.10']);
  });

  test('a locked key refuses it unchecked, and what the other key counted is taken back', async () => {
    const fake = new FakeRepository((key) => (key.startsWith('user:') ? null : counted(key)));
    expect(await throttle.password(fake.repo, 'kovacs.anna', '192.0.2.10')).toBeNull();
    expect(fake.settled).toEqual([{ clear: [], takeBack: [counted('ip:192.0.2.10')] }]);
  });

  test('the citizen is told once: when a run of failures first locks the name, and at the cap of failures in a row', async () => {
    const first = new FakeRepository((key) => (key.startsWith('user:') ? counted(key, USER_POLICY.freeFailures, 7, true) : counted(key)));
    expect(await throttle.password(first.repo, 'kovacs.anna', '192.0.2.10')).toMatchObject({ locked: true, tell: 7 });
    const later = new FakeRepository((key) => (key.startsWith('user:') ? counted(key, USER_POLICY.freeFailures + 1, 8, true) : counted(key)));
    expect(await throttle.password(later.repo, 'kovacs.anna', '192.0.2.10')).toMatchObject({ locked: true, tell: null });
    const cap = new FakeRepository((key) => (key.startsWith('user:') ? counted(key, 3, MAX_CONSECUTIVE_FAILURES, true) : counted(key)));
    expect(await throttle.password(cap.repo, 'kovacs.anna', '192.0.2.10')).toMatchObject({ tell: MAX_CONSECUTIVE_FAILURES });
  });
});

describe('a right answer', () => {
  test("forgets the principal's failures and takes back only this attempt's count on the address", async () => {
    const fake = new FakeRepository((key) => counted(key, 3));
    const attempt = (await throttle.factor(fake.repo, 'account-1', '192.0.2.10'))!;
    expect(fake.admitted[0]![0]).toMatchObject({ key: factorKey('account-1'), rule: { freeFailures: FACTOR_POLICY.freeFailures } });
    await throttle.succeeded(fake.repo, attempt);
    expect(fake.settled).toEqual([{ clear: ['factor:account-1'], takeBack: [counted('ip:192.0.2.10', 3)] }]);
  });
});

describe('a guarded password (the name is locked; the second factor will decide)', () => {
  test('counts on the address alone', async () => {
    const fake = new FakeRepository((key) => counted(key));
    expect(await throttle.guarded(fake.repo, '192.0.2.10')).toBe(true);
    expect(fake.admitted[0]!.map((k) => k.key)).toEqual(['ip:192.0.2.10']);
    const locked = new FakeRepository(() => null);
    expect(await throttle.guarded(locked.repo, '192.0.2.10')).toBe(false);
  });
});

describe('the rule each count gets', () => {
  test('its window and its hard lock are measured from now', async () => {
    const fake = new FakeRepository((key) => counted(key));
    await throttle.password(fake.repo, 'kovacs.anna', '192.0.2.10');
    const rule = fake.admitted[0]![0]!.rule;
    expect(NOW.getTime() - rule.windowStart.getTime()).toBe(USER_POLICY.windowSeconds * 1000);
    expect(rule.hardLockUntil.getTime() - NOW.getTime()).toBe(24 * 3600 * 1000);
    expect(rule.maxConsecutive).toBe(MAX_CONSECUTIVE_FAILURES);
  });
});
