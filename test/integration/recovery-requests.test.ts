/**
 * Issue 15, items 3 and 5: what anyone may ask for in a username's name — a forgotten password's
 * code, a link that lets a browser past a lock — does the same work and answers the same whether
 * the name is a citizen's (with or without the app), a disabled account's or nobody's: counted
 * in statements sent to the database and in /metrics, not by a timer.
 */
import type { Who } from '../../src/auth/who.ts';
import { PER_NAME_AND_ADDRESS } from '../../src/auth/recovery-requests.ts';
import { type CoreHarness, startCore } from '../helpers/core.ts';
import { type Observed, observed } from '../helpers/observed.ts';

const WHO: Who = { ip: '198.51.100.20', lang: 'hu', browser: 'Firefox 133, Linux' };
const NEW_PASSWORD = 'uj jelszo 2026';

describe('requests in a username’s name', () => {
  let core: CoreHarness;
  /** A citizen, one with the app, a disabled account, and a name that is nobody's. */
  let names: string[];
  beforeAll(async () => {
    core = await startCore();
    await core.account('valodi.vera', ['email']);
    await core.account('alkalmazasos.aladar', ['totp']);
    const disabled = await core.account('letiltott.lili', ['email']);
    await core.deps.repos.accounts.setDisabled(disabled.id, core.clock.now(), core.clock.now());
    names = ['valodi.vera', 'alkalmazasos.aladar', 'letiltott.lili', 'senki.sem'];
  });
  afterAll(async () => {
    await core?.close();
  });

  const observe = <T>(step: () => Promise<T>) => observed(core.deps, step);

  /** Every observation alike in statements and counters (and at least one counter moved). */
  function expectAlike(all: Array<Observed<unknown>>): void {
    expect(Object.keys(all[0]!.metrics).length).toBeGreaterThan(0);
    for (const o of all.slice(1)) expect({ statements: o.statements, metrics: o.metrics }).toEqual({ statements: all[0]!.statements, metrics: all[0]!.metrics });
  }

  test('a forgotten password, step one: the same answer and the same work for every name', async () => {
    const all = [];
    for (const name of names) all.push(await observe(() => core.deps.recovery.beginReset(name, WHO)));
    for (const o of all) expect(o.outcome).toEqual({ ok: true, changeId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expectAlike(all);
    // Only the two citizens got a code.
    const mailed = (await core.deliver()).filter((m) => m.subject === 'Ügyfélkapu+ – elfelejtett jelszó').map((m) => m.to);
    expect(mailed.sort()).toEqual(['alkalmazasos.aladar@example.hu', 'valodi.vera@example.hu']);
  });

  test('a forgotten password, step two: a wrong code costs the same for every name', async () => {
    const begun = new Map<string, string>();
    for (const name of names) {
      const outcome = await core.deps.recovery.beginReset(name, WHO);
      if (outcome.ok) begun.set(name, outcome.changeId);
    }
    const codes = new Map((await core.deliver()).slice(0, 2).map((m) => [m.to.split('@')[0]!, /Kód: (\d{6})/.exec(m.text)![1]!]));
    const all = [];
    for (const name of names) {
      // Never by chance the right one; no app code either (what the app would need is not told).
      const wrong = codes.get(name) === '000000' ? '111111' : '000000';
      all.push(await observe(() => core.deps.recovery.completeReset(begun.get(name)!, { code: wrong, password: NEW_PASSWORD, password2: NEW_PASSWORD }, WHO)));
    }
    for (const o of all) expect(o.outcome).toEqual({ ok: false, refusal: 'wrong_answer', notice: { key: 'account.reset_failed', error: true } });
    expectAlike(all);

    // The right code resets the citizen's password, once.
    const vera = begun.get('valodi.vera')!;
    const right = { code: codes.get('valodi.vera')!, password: NEW_PASSWORD, password2: NEW_PASSWORD };
    expect(await core.deps.recovery.completeReset(vera, right, WHO)).toMatchObject({ ok: true });
    expect(await core.deps.recovery.completeReset(vera, right, WHO)).toMatchObject({ ok: false, refusal: 'wrong_answer' });
  });

  test('asking for a link past a lock: the same answer and the same work for every name', async () => {
    const binding = core.deps.unlock.newBinding();
    const all = [];
    for (const name of names) all.push(await observe(() => core.deps.unlock.ask(name, { ...WHO, ip: '198.51.100.21' }, binding, null)));
    for (const o of all) expect(o.outcome).toEqual({ ok: true, tag: expect.stringMatching(/^\d{3}$/) });
    expectAlike(all);
    const mailed = (await core.deliver()).filter((m) => m.subject === 'Ügyfélkapu+ – belépési link').map((m) => m.to);
    expect(mailed.sort()).toEqual(['alkalmazasos.aladar@example.hu', 'valodi.vera@example.hu']);
  });

  test('a stranger asking in a citizen’s name uses up only their own address’s share, and is refused the same way for any name', async () => {
    const stranger = { ...WHO, ip: '203.0.113.99' };
    for (const name of ['valodi.vera', 'senki.sem']) {
      for (let i = 0; i < PER_NAME_AND_ADDRESS; i += 1) expect((await core.deps.recovery.beginReset(name, stranger)).ok).toBe(true);
    }
    const refused = [await observe(() => core.deps.recovery.beginReset('valodi.vera', stranger)), await observe(() => core.deps.recovery.beginReset('senki.sem', stranger))];
    for (const o of refused) expect(o.outcome).toEqual({ ok: false, refusal: 'rate_limited', notice: { key: 'recovery.too_many', error: true } });
    expect(refused[1]!.statements).toBe(refused[0]!.statements);
    expect(refused[1]!.metrics).toEqual(refused[0]!.metrics);
    // The citizen, from their own address, still gets their code.
    expect(await core.deps.recovery.beginReset('valodi.vera', { ...WHO, ip: '192.0.2.77' })).toMatchObject({ ok: true });
  });
});
