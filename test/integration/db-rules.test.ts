/**
 * The security rules that live in the queries (SPEC §3, §5), checked at repository level on a
 * real database: guesses counted before they are checked, in one statement for all keys; a
 * right answer's bookkeeping in one statement; one-time codes single use, bounded in tries,
 * cool-down and hourly cap, and issued only inside a unit of work.
 */
import { timingSafeEqual } from 'node:crypto';
import type { CodeRules } from '../../src/db/repositories/one-time-codes.ts';
import { NOBODY } from '../../src/mail/mailer.ts';
import { factorKey, ipKey, userKey } from '../../src/security/throttle.ts';
import { type CoreHarness, startCore } from '../helpers/core.ts';

const RULES: CodeRules = { ttlSeconds: 600, maxAttempts: 5, resendSeconds: 60, maxPerHour: 3 };

describe('rules enforced in the queries', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore();
  });
  afterAll(async () => {
    await core?.close();
  });

  /** Statements the database was sent while `fn` ran. */
  async function statements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
    const before = core.deps.dbStats.statements;
    const result = await fn();
    return { result, statements: core.deps.dbStats.statements - before };
  }

  describe('throttle', () => {
    test('a guess is counted on the username and the address in one statement; a right answer is settled in one', async () => {
      const { throttle, repos } = core.deps;
      const counted = await statements(() => throttle.password(repos.throttle, 'egy.lepes', '198.51.100.1'));
      expect(counted.statements).toBe(1);
      const attempt = counted.result!;
      expect(attempt.counted.map((c) => c.key).sort()).toEqual([ipKey('198.51.100.1'), userKey('egy.lepes')].sort());

      const settled = await statements(() => throttle.succeeded(repos.throttle, attempt));
      expect(settled.statements).toBe(1);
      const rows = await core.deps.db.selectFrom('auth_throttle').select(['key', 'failures']).where('key', 'in', [userKey('egy.lepes'), ipKey('198.51.100.1')]).execute();
      // The username's count is gone; the address keeps its row, with this guess taken back.
      expect(rows).toEqual([{ key: ipKey('198.51.100.1'), failures: 0 }]);
    });

    test('thirty guesses at once: five are admitted, the fifth locks, the rest are refused uncounted', async () => {
      const { throttle, repos } = core.deps;
      const attempts = await Promise.all(Array.from({ length: 30 }, () => throttle.password(repos.throttle, 'sok.talalgatas', '198.51.100.2')));
      const admitted = attempts.filter((a) => a !== null);
      expect(admitted.length).toBe(5);
      expect(admitted.filter((a) => a.locked).length).toBe(1);
      const row = await core.deps.db.selectFrom('auth_throttle').select(['failures', 'locked_until']).where('key', '=', userKey('sok.talalgatas')).executeTakeFirstOrThrow();
      expect(row.failures).toBe(5);
      expect(row.locked_until!.getTime()).toBeGreaterThan(core.clock.now().getTime());
      // The refused ones took back what they had counted on the address.
      const ip = await core.deps.db.selectFrom('auth_throttle').select('failures').where('key', '=', ipKey('198.51.100.2')).executeTakeFirstOrThrow();
      expect(ip.failures).toBe(5);
    });

    test('a second factor is throttled on its own key, apart from the password', async () => {
      const { throttle, repos } = core.deps;
      for (let i = 0; i < 10; i += 1) expect(await throttle.factor(repos.throttle, 'fiok-1', '198.51.100.3')).not.toBeNull();
      expect(await throttle.factor(repos.throttle, 'fiok-1', '198.51.100.3')).toBeNull();
      expect(await throttle.lockedUntil(repos.throttle, [factorKey('fiok-1')])).not.toBeNull();
      expect(await throttle.password(repos.throttle, 'fiok.egy', '198.51.100.3')).not.toBeNull();
    });
  });

  describe('one-time codes', () => {
    const hash = (code: string) => core.deps.box.mac('otp', `test:${code}`);
    const scope = (flowId: string, accountId: string) => ({ purpose: 'signin' as const, flowId, accountId });
    // The code's mail (to nobody: the sender drops it unsent) and audit event, stored with it.
    const withMail = (accountId: string) => ({
      mail: core.deps.mailer.seal({ to: NOBODY, subject: '', text: '', html: '' }),
      event: { type: 'code.sent' as const, accountId, detail: { purpose: 'signin' } },
    });

    async function issued(flowId: string, accountId: string, code: string) {
      return core.deps.uow.transaction((r) => r.codes.issue({ ...scope(flowId, accountId), ...withMail(accountId), id: `${flowId}-${code}`, tag: code.slice(0, 3), codeHash: hash(code), now: core.clock.now(), rules: RULES }));
    }

    test('a code is issued only inside a unit of work (its cap is decided under a lock)', async () => {
      const { id } = await core.account('zar.zoltan');
      await expect(core.deps.repos.codes.issue({ ...scope('f0', id), ...withMail(id), id: 'x', tag: '123', codeHash: hash('123456'), now: core.clock.now(), rules: RULES })).rejects.toThrow(/transaction/);
    });

    test('five wrong tries kill a code, even for the right code afterwards; a new code keeps the count', async () => {
      const { id } = await core.account('probalo.peter');
      expect(await issued('f1', id, '111111')).toEqual({ ok: true });
      const check = (code: string) => core.deps.repos.codes.check({ ...scope('f1', id), codeHashes: [hash(code)], now: core.clock.now(), maxAttempts: RULES.maxAttempts });
      for (let left = 4; left >= 1; left -= 1) expect(await check('999999')).toEqual({ ok: false, reason: 'invalid', attemptsLeft: left });
      expect(await check('999999')).toEqual({ ok: false, reason: 'exhausted' });
      expect(await check('111111')).toEqual({ ok: false, reason: 'exhausted' });
      core.clock.advance(61);
      expect(await issued('f1', id, '222222')).toEqual({ ok: false, reason: 'exhausted' });
    });

    test('cool-down and the hourly cap are kept, per account, across flows', async () => {
      const { id } = await core.account('kodgyujto.kornel');
      expect(await issued('g1', id, '100001')).toEqual({ ok: true });
      expect(await issued('g1', id, '100002')).toMatchObject({ ok: false, reason: 'cooldown' });
      expect(await issued('g2', id, '100003')).toEqual({ ok: true });
      expect(await issued('g3', id, '100004')).toEqual({ ok: true });
      expect(await issued('g4', id, '100005')).toEqual({ ok: false, reason: 'cap' });
      core.clock.advance(3601);
      expect(await issued('g4', id, '100006')).toEqual({ ok: true });
    });

    test('the right code checked ten times at once is used once', async () => {
      const { id } = await core.account('egyszer.edit');
      await issued('h1', id, '424242');
      const results = await Promise.all(
        Array.from({ length: 10 }, () => core.deps.repos.codes.check({ ...scope('h1', id), codeHashes: [hash('424242')], now: core.clock.now(), maxAttempts: 20 })),
      );
      expect(results.filter((r) => r.ok).length).toBe(1);
      expect(results.filter((r) => !r.ok && r.reason === 'used').length).toBe(9);
    });

    test('only the keyed hash of a code is stored', async () => {
      const { id } = await core.account('hash.hedvig');
      await issued('k1', id, '135790');
      const row = await core.deps.db.selectFrom('one_time_code').select('code_hash').where('flow_id', '=', 'k1').executeTakeFirstOrThrow();
      expect(row.code_hash).not.toContain('135790');
      expect(timingSafeEqual(Buffer.from(row.code_hash), Buffer.from(hash('135790')))).toBe(true);
    });
  });
});
