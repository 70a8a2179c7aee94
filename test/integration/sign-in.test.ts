/**
 * The sign-in core without HTTP (src/auth/sign-in.ts): the same rules the pages obey, asked
 * of the core directly, on a real database (PGlite, or Postgres with DATABASE_URL).
 */
import { sql } from 'kysely';
import { generate } from 'otplib';
import type { Outcome } from '../../src/auth/outcomes.ts';
import { FLOW_STATES } from '../../src/auth/flow.ts';
import { type CoreHarness, CLIENT_ID, FROM, codeOf, startCore, typedProof } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

function expectKind<K extends Outcome['kind']>(outcome: Outcome, kind: K): Extract<Outcome, { kind: K }> {
  expect(outcome.kind).toBe(kind);
  return outcome as Extract<Outcome, { kind: K }>;
}

describe('the sign-in core', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore();
  });
  afterAll(async () => {
    await core?.close();
  });

  /** A sign-in taken to its password step with `method`. */
  async function atPassword(method: string, params: Record<string, string> = {}) {
    const uid = await core.interaction(params);
    expectKind(await core.deps.signIns.chooseMethod(uid, FROM, method), 'advanced');
    return uid;
  }

  test('password only: the interaction gets accountId, acr low and amr pwd, and the flow is done', async () => {
    const account = await core.account('jelszavas.janos');
    const uid = await atPassword('legacy');
    const finished = expectKind(await core.deps.signIns.password(uid, FROM, { username: 'Jelszavas.Janos ', password: PASSWORD }), 'finished');
    expect(finished.returnTo).toBe(`https://kapu.example.hu/auth/${uid}`);
    expect(await core.result(uid)).toEqual({ login: { accountId: account.id, acr: LOW, amr: ['pwd'], remember: false } });
    const flow = await core.deps.db.selectFrom('login_flow').select(['state', 'account_id']).where('uid', '=', uid).executeTakeFirst();
    expect(flow).toEqual({ state: 'done', account_id: account.id });
    // A double click after the end resumes where it ended, and writes nothing.
    expectKind(await core.deps.signIns.password(uid, FROM, { username: 'jelszavas.janos', password: PASSWORD }), 'already_finished');
  });

  test('an unknown user and a wrong password get the same refusal, and nothing about the account', async () => {
    await core.account('letezo.lili', ['email']);
    const wrong = await core.deps.signIns.password(await atPassword('email'), FROM, { username: 'letezo.lili', password: 'nem ez a jelszó' });
    const unknown = await core.deps.signIns.password(await atPassword('email'), FROM, { username: 'nincs.ilyen', password: 'nem ez a jelszó' });
    for (const outcome of [wrong, unknown]) {
      const refused = expectKind(outcome, 'refused');
      expect({ refusal: refused.refusal, notice: refused.notice, state: refused.shown.page.state, accountId: refused.shown.accountId }).toEqual({
        refusal: 'wrong_credentials',
        notice: { key: 'password.failed', error: true },
        state: 'password',
        accountId: null,
      });
    }
  });

  test('a missing field is invalid input: it costs no throttle count', async () => {
    const uid = await atPassword('legacy');
    const refused = expectKind(await core.deps.signIns.password(uid, FROM, { username: 'valaki' }), 'refused');
    expect(refused.refusal).toBe('invalid_input');
    expect(await core.deps.db.selectFrom('auth_throttle').select('key').where('key', '=', 'user:valaki').executeTakeFirst()).toBeUndefined();
  });

  test('after five wrong passwords the right one is refused the same way, until the lock ends', async () => {
    await core.account('zarolt.zoltan');
    for (let i = 0; i < 5; i += 1) {
      expectKind(await core.deps.signIns.password(await atPassword('legacy'), FROM, { username: 'zarolt.zoltan', password: `rossz ${i}` }), 'refused');
    }
    const locked = expectKind(await core.deps.signIns.password(await atPassword('legacy'), FROM, { username: 'zarolt.zoltan', password: PASSWORD }), 'refused');
    expect(locked.notice.key).toBe('password.failed');
    core.clock.advance(31);
    expectKind(await core.deps.signIns.password(await atPassword('legacy'), FROM, { username: 'zarolt.zoltan', password: PASSWORD }), 'finished');
  });

  test('an emailed code: the mail carries the page’s tag, a code from an earlier mail is refused, the newest signs in at substantial', async () => {
    const account = await core.account('emailes.erika', ['email']);
    const uid = await atPassword('email');
    const advanced = expectKind(await core.deps.signIns.password(uid, FROM, { username: 'emailes.erika', password: PASSWORD }), 'advanced');
    expect(advanced.notice).toEqual({ key: 'email.sent' });
    const [first] = await core.deliver();
    expect({ to: first!.to, subject: first!.subject }).toEqual({ to: account.email, subject: 'Ügyfélkapu+ hitelesítő kód' });
    const shown = expectKind(await core.deps.signIns.show(uid, FROM, null), 'show');
    expect(shown.shown.page).toMatchObject({ state: 'factor', factor: { id: 'email' }, view: { data: { tag: codeOf(first!).tag } } });

    core.clock.advance(61);
    expectKind(await core.deps.signIns.resend(uid, FROM), 'advanced');
    const [second] = await core.deliver();
    expect(codeOf(second!).tag).not.toBe(codeOf(first!).tag);
    const stale = expectKind(await core.deps.signIns.verify(uid, FROM, { code: codeOf(first!).code }), 'refused');
    expect(stale.notice).toMatchObject({ key: 'code.superseded', vars: { tag: codeOf(second!).tag } });

    expectKind(await core.deps.signIns.verify(uid, FROM, { code: codeOf(second!).code }), 'finished');
    expect(await core.result(uid)).toEqual({ login: { accountId: account.id, acr: SUBSTANTIAL, amr: ['pwd', 'email', 'mfa'], remember: false } });
  });

  test('the audit log keeps each step of an emailed-code sign-in, each recorded by the statement that makes the step', async () => {
    const account = await core.account('naplozott.nora', ['email']);
    const uid = await atPassword('email');
    expectKind(await core.deps.signIns.password(uid, FROM, { username: 'naplozott.nora', password: PASSWORD }), 'advanced');
    const [mail] = await core.deliver();
    expectKind(await core.deps.signIns.verify(uid, FROM, { code: codeOf(mail!).code }), 'finished');
    const events = await core.deps.db
      .selectFrom('audit_event')
      .select(['type', 'account_id', 'client_id', 'ip', 'detail'])
      .where('account_id', '=', account.id)
      .where('type', 'in', ['signin.password_ok', 'code.sent', 'signin.succeeded'])
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { type: 'signin.password_ok', account_id: account.id, client_id: CLIENT_ID, ip: FROM.ip, detail: {} },
      { type: 'code.sent', account_id: account.id, client_id: null, ip: null, detail: { purpose: 'signin', tag: codeOf(mail!).tag } },
      { type: 'signin.succeeded', account_id: account.id, client_id: CLIENT_ID, ip: FROM.ip, detail: expect.objectContaining({ method: 'email', acr: SUBSTANTIAL }) },
    ]);
  });

  test('the right code submitted twice at once finishes the sign-in once; the other request resumes', async () => {
    await core.account('dupla.dora', ['email']);
    const uid = await atPassword('email');
    await core.deps.signIns.password(uid, FROM, { username: 'dupla.dora', password: PASSWORD });
    const { code } = codeOf((await core.deliver())[0]!);
    const outcomes = await Promise.all([1, 2, 3].map(() => core.deps.signIns.verify(uid, FROM, { code })));
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['already_finished', 'already_finished', 'finished']);
  });

  test('a right code is used up by the end of its sign-in, not by its check: checked again after the end it is spent, no guess', async () => {
    const account = await core.account('egyszeri.edit', ['email']);
    const uid = await atPassword('email');
    await core.deps.signIns.password(uid, FROM, { username: 'egyszeri.edit', password: PASSWORD });
    const { code } = codeOf((await core.deliver())[0]!);
    const emailFactor = typedProof(core.deps.factors.get('email'));
    const check = () => emailFactor.verify({ flowId: uid, account: { ...account, name: 'Teszt egyszeri.edit' }, lang: 'hu', repos: core.deps.repos }, { code });

    // Checked alone (as a request that has not reached the end yet), the code stays usable…
    expect(await check()).toMatchObject({ ok: true, spend: { touch: 'email' } });
    expectKind(await core.deps.signIns.verify(uid, FROM, { code }), 'finished');
    // …and once the sign-in ended with it, a request that was still on its way finds it spent.
    expect(await check()).toEqual({ ok: false, notice: { key: 'code.none' }, spent: true });
    const used = await core.deps.db.selectFrom('one_time_code').select(['used_at', 'attempts']).where('flow_id', '=', uid).executeTakeFirstOrThrow();
    expect(used.used_at).not.toBeNull();
    expect(used.attempts).toBe(2);
  });

  // Postgres only: PGlite has one connection, where nothing can wait.
  (process.env['DATABASE_URL'] ? test : test.skip)('a right code that reaches its check only after another request ended the sign-in with it resumes, and costs no try', async () => {
    const account = await core.account('kesett.kornel', ['email']);
    const uid = await atPassword('email');
    await core.deps.signIns.password(uid, FROM, { username: 'kesett.kornel', password: PASSWORD });
    const { code } = codeOf((await core.deliver())[0]!);
    const { db } = core.deps;
    // What counts against anyone: the throttle's rows with failures on them.
    const throttled = () => db.selectFrom('auth_throttle').select(['key', 'failures']).where('failures', '>', 0).orderBy('key').execute();
    const before = await throttled();
    let late: Promise<Outcome> | undefined;
    // The other request's end, held open (its locks in the order every step takes them: the
    // flow, then the code) until the late request has read the sign-in and waits behind it.
    await db.transaction().execute(async (trx) => {
      await sql`select uid from login_flow where uid = ${uid} for update`.execute(trx);
      await sql`select id from one_time_code where flow_id = ${uid} for update`.execute(trx);
      late = core.deps.signIns.verify(uid, FROM, { code });
      const waiting = sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      const deadline = Date.now() + 10_000;
      while ((await waiting.execute(db)).rows[0]!.n === 0) if (Date.now() > deadline) throw new Error('the late request never waited');
      const now = core.clock.now();
      await sql`update one_time_code set used_at = ${now} where flow_id = ${uid}`.execute(trx);
      await sql`update login_flow set state = 'done', account_id = ${account.id} where uid = ${uid}`.execute(trx);
    });
    expectKind(await late!, 'already_finished');
    expect(await throttled()).toEqual(before);
  });

  test('steps posted out of turn are refused without a change: a code before the password, a password after the end', async () => {
    const uid = await atPassword('legacy');
    expectKind(await core.deps.signIns.verify(uid, FROM, { code: '123456' }), 'wrong_step');
    expectKind(await core.deps.signIns.chooseMethod(uid, FROM, 'legacy'), 'wrong_step');
    expectKind(await core.deps.signIns.chooseMethod(await core.interaction(), FROM, 'nincs-ilyen'), 'bad_request');
    expectKind(await core.deps.signIns.show('no-such-interaction', FROM, null), 'expired');
  });

  test('an authenticator code signs in once; the same code again is refused (replay guard)', async () => {
    const { totpSecret } = await core.account('app.aladar', ['totp']);
    const code = await generate({ secret: totpSecret!, epoch: Math.floor(core.clock.now().getTime() / 1000) });
    const first = await atPassword('totp');
    await core.deps.signIns.password(first, FROM, { username: 'app.aladar', password: PASSWORD });
    expectKind(await core.deps.signIns.verify(first, FROM, { code }), 'finished');
    const second = await atPassword('totp');
    await core.deps.signIns.password(second, FROM, { username: 'app.aladar', password: PASSWORD });
    const replay = expectKind(await core.deps.signIns.verify(second, FROM, { code }), 'refused');
    expect({ refusal: replay.refusal, key: replay.notice.key }).toEqual({ refusal: 'wrong_answer', key: 'totp.invalid' });
  });

  test('an account with a second factor never gets in with the password alone: "Ügyfélkapuval" asks for its factor', async () => {
    await core.account('ketlepcsos.kata', ['email']);
    const uid = await atPassword('legacy');
    expectKind(await core.deps.signIns.password(uid, FROM, { username: 'ketlepcsos.kata', password: PASSWORD }), 'advanced');
    expect(await core.result(uid)).toBeUndefined();
    const shown = expectKind(await core.deps.signIns.show(uid, FROM, null), 'show');
    expect(shown.shown.page).toMatchObject({ state: 'factor', factor: { id: 'email' } });
    expectKind(await core.deps.signIns.continueWithPassword(uid, FROM), 'wrong_step');
    const [mail] = await core.deliver();
    expectKind(await core.deps.signIns.verify(uid, FROM, { code: codeOf(mail!).code }), 'finished');
    expect(await core.result(uid)).toMatchObject({ login: { acr: SUBSTANTIAL, amr: ['pwd', 'email', 'mfa'] } });
  });

  test('an RP that demands substantial never gets low: a password-only account is offered a factor, or the way back', async () => {
    await core.account('csak.jelszo');
    const uid = await atPassword('legacy', { acr_values: SUBSTANTIAL });
    expectKind(await core.deps.signIns.password(uid, FROM, { username: 'csak.jelszo', password: PASSWORD }), 'advanced');
    const shown = expectKind(await core.deps.signIns.show(uid, FROM, null), 'show');
    expect(shown.shown.page).toMatchObject({ state: 'upgrade', reason: 'required', passwordOnly: false, setUp: [{ id: 'dap' }, { id: 'totp' }, { id: 'email' }, { id: 'passkey' }] });
    expectKind(await core.deps.signIns.continueWithPassword(uid, FROM), 'wrong_step');
    expectKind(await core.deps.signIns.abort(uid, FROM), 'finished');
    expect(await core.result(uid)).toMatchObject({ error: 'unmet_authentication_requirements' });
  });

  test('…and one that sets an emailed code up right there goes on to the RP at substantial, with the new factor kept', async () => {
    const account = await core.account('most.allitja');
    const uid = await atPassword('email', { acr_values: SUBSTANTIAL });
    await core.deps.signIns.password(uid, FROM, { username: 'most.allitja', password: PASSWORD });
    expectKind(await core.deps.signIns.setUp(uid, FROM, 'email'), 'advanced');
    const [mail] = await core.deliver();
    expect(mail!.subject).toBe('Ügyfélkapu+ igénylés – Megerősítő kód');
    const shown = expectKind(await core.deps.signIns.show(uid, FROM, null), 'show');
    expect(shown.shown.page).toMatchObject({ state: 'enroll', factor: { id: 'email' }, view: { data: { tag: codeOf(mail!).tag } } });

    expectKind(await core.deps.signIns.verify(uid, FROM, { code: codeOf(mail!).code }), 'finished');
    expect(await core.result(uid)).toEqual({ login: { accountId: account.id, acr: SUBSTANTIAL, amr: ['pwd', 'email', 'mfa'], remember: false } });
    expect(await core.deps.repos.factors.kinds(account.id)).toEqual(['email']);
  });

  test('the flow states in code are exactly the ones the database allows', async () => {
    const { rows } = await sql<{ def: string }>`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'login_flow_state'`.execute(core.deps.db);
    const allowed = [...rows[0]!.def.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
    expect(allowed.sort()).toEqual([...FLOW_STATES].sort());
    const uid = await core.interaction();
    await core.deps.signIns.show(uid, FROM, null);
    const { id } = await core.account('allapot.agnes');
    await expect(core.deps.db.updateTable('login_flow').set({ state: 'somewhere_else', account_id: id }).where('uid', '=', uid).execute()).rejects.toThrow(/login_flow_state/);
    // A flow at a factor names it; a flow past the password names its account.
    await expect(core.deps.db.updateTable('login_flow').set({ state: 'factor', account_id: id }).where('uid', '=', uid).execute()).rejects.toThrow(/login_flow_factor/);
    await expect(core.deps.db.updateTable('login_flow').set({ state: 'upgrade' }).where('uid', '=', uid).execute()).rejects.toThrow(/login_flow_account/);
  });

  test('the page of a sign-in names its RP', async () => {
    const shown = expectKind(await core.deps.signIns.show(await core.interaction(), FROM, null), 'show');
    expect(shown.shown.client).toEqual({ id: CLIENT_ID, name: 'Teszt szolgáltatás', logoSha256: null, homepage: null });
    expect(shown.shown.page.state).toBe('choose_method');
  });
});
