/**
 * The passkey rules that live in the queries (issue 19), on a real database: a challenge is used
 * once even when two answers race, only on its flow and while alive; a counter moves only from
 * the value the check read; the account has the factor while it has a passkey.
 */
import { PasskeyRepository } from '../../src/factors/passkey/repository.ts';
import { type CoreHarness, startCore } from '../helpers/core.ts';

describe('passkey credentials and challenges', () => {
  let core: CoreHarness;
  let repo: PasskeyRepository;
  beforeAll(async () => {
    core = await startCore();
    repo = new PasskeyRepository(core.deps.db);
  });
  afterAll(async () => {
    await core?.close();
  });

  const now = new Date('2026-12-07T10:00:00Z');
  const later = (s: number) => new Date(now.getTime() + s * 1000);
  const credential = (accountId: string, id: string, name = id) => ({
    id,
    accountId,
    credentialId: `cred-${id}`,
    publicKey: 'pk',
    userHandle: `handle-${accountId}`,
    counter: 0,
    transports: ['internal', 'hybrid'],
    backupEligible: true,
    backedUp: false,
    aaguid: '00000000-0000-0000-0000-000000000000',
    name,
    now,
  });

  test('ten answers racing for one challenge: one uses it, the others find it used', async () => {
    const account = await core.account('verseny.passkey');
    await repo.issue({ id: 'ch-race', challenge: 'abc', purpose: 'authenticate', flowId: 'uid-race', accountId: account.id, userVerification: 'preferred', now, expiresAt: later(600) });
    const results = await Promise.all(Array.from({ length: 10 }, () => core.deps.db.transaction().execute((trx) => new PasskeyRepository(trx).consume({ flowId: 'uid-race', challenge: 'abc', purpose: 'authenticate', now: later(1) }))));
    expect(results.filter((r) => r.ok)).toEqual([{ ok: true, accountId: account.id, userVerification: 'preferred', userHandle: null }]);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 9 }, () => ({ ok: false, reason: 'challenge_used' })));
  });

  test('a challenge is not found on another flow or for another purpose, nor used after its time', async () => {
    await repo.issue({ id: 'ch-bound', challenge: 'def', purpose: 'register', flowId: 'portal-1', accountId: null, userVerification: 'required', now, expiresAt: later(600) });
    expect(await repo.consume({ flowId: 'portal-2', challenge: 'def', purpose: 'register', now })).toEqual({ ok: false, reason: 'challenge_unknown' });
    expect(await repo.consume({ flowId: 'portal-1', challenge: 'def', purpose: 'authenticate', now })).toEqual({ ok: false, reason: 'challenge_unknown' });
    expect(await repo.consume({ flowId: 'portal-1', challenge: 'def', purpose: 'register', now: later(600) })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('a new challenge uses up the flow’s older one', async () => {
    await repo.issue({ id: 'ch-old', challenge: 'old', purpose: 'authenticate', flowId: 'uid-new', accountId: null, userVerification: 'required', now, expiresAt: later(600) });
    await repo.issue({ id: 'ch-new', challenge: 'new', purpose: 'authenticate', flowId: 'uid-new', accountId: null, userVerification: 'required', now, expiresAt: later(600) });
    expect(await repo.consume({ flowId: 'uid-new', challenge: 'old', purpose: 'authenticate', now })).toEqual({ ok: false, reason: 'challenge_used' });
    expect((await repo.consume({ flowId: 'uid-new', challenge: 'new', purpose: 'authenticate', now })).ok).toBe(true);
  });

  test('several passkeys per account, each credential id once anywhere; the factor goes with the last one', async () => {
    const anna = await core.account('tobb.passkey');
    const bela = await core.account('masik.passkey');
    expect(await repo.add(credential(anna.id, 'p1', 'Laptop'))).toBe(true);
    expect(await repo.add(credential(anna.id, 'p2', 'Telefon'))).toBe(true);
    expect(await repo.add({ ...credential(bela.id, 'p3'), credentialId: 'cred-p1' })).toBe(false);
    expect(await core.deps.repos.factors.kinds(anna.id)).toContain('passkey');
    expect((await repo.list(anna.id)).map((p) => [p.name, p.transports, p.backup_eligible])).toEqual([
      ['Laptop', ['internal', 'hybrid'], true],
      ['Telefon', ['internal', 'hybrid'], true],
    ]);

    expect(await repo.remove(bela.id, 'p1')).toEqual({ removed: false, name: null, left: 0 });
    expect(await repo.remove(anna.id, 'p1')).toEqual({ removed: true, name: 'Laptop', left: 1 });
    expect(await core.deps.repos.factors.kinds(anna.id)).toContain('passkey');
    expect(await repo.remove(anna.id, 'p2')).toEqual({ removed: true, name: 'Telefon', left: 0 });
    expect(await core.deps.repos.factors.kinds(anna.id)).not.toContain('passkey');
  });

  test('a counter moves only from the value read: a second use with the same reading is refused', async () => {
    const account = await core.account('szamlalo.passkey');
    await repo.add(credential(account.id, 'p4'));
    expect(await repo.used('p4', 0, 5, true, later(1))).toBe(true);
    expect(await repo.used('p4', 0, 6, true, later(2))).toBe(false);
    expect(await repo.byCredentialId('cred-p4')).toMatchObject({ counter: 5, backed_up: true });
    expect((await repo.list(account.id))[0]?.last_used_at).toEqual(later(1));
  });

  test('removing the factor takes every passkey and open challenge of the account', async () => {
    const account = await core.account('mind.passkey');
    await repo.add(credential(account.id, 'p5'));
    await repo.add(credential(account.id, 'p6'));
    await repo.issue({ id: 'ch-all', challenge: 'all', purpose: 'authenticate', flowId: 'uid-all', accountId: account.id, userVerification: 'preferred', now, expiresAt: later(600) });
    expect(await repo.removeAll(account.id)).toBe(true);
    expect(await repo.list(account.id)).toEqual([]);
    expect(await repo.consume({ flowId: 'uid-all', challenge: 'all', purpose: 'authenticate', now })).toEqual({ ok: false, reason: 'challenge_unknown' });
    expect(await repo.removeAll(account.id)).toBe(false);
  });

  test('housekeeping deletes challenges past their time, and only those', async () => {
    await repo.issue({ id: 'ch-old-1', challenge: 'gone', purpose: 'authenticate', flowId: 'uid-house', accountId: null, userVerification: 'required', now, expiresAt: later(600) });
    await repo.issue({ id: 'ch-live-1', challenge: 'live', purpose: 'register', flowId: 'uid-house', accountId: null, userVerification: 'required', now, expiresAt: later(1200) });
    expect(await repo.purgeExpired(later(900))).toBeGreaterThanOrEqual(1);
    expect(await repo.consume({ flowId: 'uid-house', challenge: 'gone', purpose: 'authenticate', now })).toEqual({ ok: false, reason: 'challenge_unknown' });
    expect((await repo.consume({ flowId: 'uid-house', challenge: 'live', purpose: 'register', now })).ok).toBe(true);
  });
});
