/**
 * The factor contract serves every factor kapu will have: an out-of-band factor (an approval
 * on a phone) is added without touching another factor and polled without costing a try; and
 * setting factors up (enroll begin → confirm, remove) is part of the contract, with emailed
 * enrollment codes for real.
 */
import { generate } from 'otplib';
import type { ChallengeStatus, Collected, Factor, OperatorEnrollable, OutOfBandProof, Removable } from '../../src/factors/factor.ts';
import { type CoreHarness, FROM, codeOf, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';

/**
 * A factor approved on another device (the shape of the DÁP app method): an out-of-band
 * sign-in proof, removable, given by an operator, and nothing else — no setup by the citizen,
 * no reset proof, no guarded proof.
 */
class PhoneApproval implements Factor<Record<string, never>> {
  readonly id = 'phone';
  readonly amr = ['swk', 'pin'];
  readonly labelKey = 'factor.totp';
  readonly challenges = new Map<string, ChallengeStatus>();

  parse() {
    return {};
  }
  readonly signIn: OutOfBandProof = {
    answered: 'out_of_band',
    begin: async (ctx) => {
      this.challenges.set(ctx.flowId, 'pending');
      return null;
    },
    view: async () => ({ template: '@totp/sign-in', data: {} }),
    status: async (ctx) => this.challenges.get(ctx.flowId) ?? 'expired',
    collect: async (ctx): Promise<Collected> => {
      const status = this.challenges.get(ctx.flowId) ?? 'expired';
      if (status !== 'approved') return { status, notice: { key: 'code.none' } };
      this.challenges.delete(ctx.flowId);
      return { status, accountId: ctx.account.id };
    },
  };
  readonly removal: Removable = {
    remove: (ctx) => ctx.repos.factors.remove(ctx.account.id, this.id),
  };
  readonly operatorEnroll: OperatorEnrollable = {
    enroll: async (ctx) => {
      await ctx.repos.factors.put({ id: `phone-${ctx.account.id}`, accountId: ctx.account.id, kind: this.id, secretSealed: null, now: new Date() });
      return {};
    },
  };
}

describe('an out-of-band factor behind the same contract', () => {
  const phone = new PhoneApproval();
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore({ extraFactors: [phone] });
  });
  afterAll(async () => {
    await core?.close();
  });

  test('the waiting page polls pending → approved without a throttle count; then the sign-in finishes with its amr', async () => {
    const account = await core.account('telefonos.tunde', ['phone']);
    const uid = await core.interaction();
    await core.deps.signIns.chooseMethod(uid, FROM, 'phone');
    expect((await core.deps.signIns.password(uid, FROM, { username: 'telefonos.tunde', password: PASSWORD })).kind).toBe('advanced');
    const throttleBefore = await core.deps.db.selectFrom('auth_throttle').selectAll().execute();

    for (let i = 0; i < 30; i += 1) expect(await core.deps.signIns.status(uid, FROM)).toEqual({ kind: 'status', status: 'pending' });
    phone.challenges.set(uid, 'approved');
    expect(await core.deps.signIns.status(uid, FROM)).toEqual({ kind: 'status', status: 'approved' });
    expect(await core.deps.db.selectFrom('auth_throttle').selectAll().execute()).toEqual(throttleBefore);

    expect((await core.deps.signIns.verify(uid, FROM, {})).kind).toBe('finished');
    expect(await core.result(uid)).toEqual({ login: { accountId: account.id, acr: 'http://eidas.europa.eu/LoA/substantial', amr: ['pwd', 'swk', 'pin', 'mfa'], remember: false } });
  });

  test('a factor that only types codes has no status to poll', async () => {
    await core.account('kodos.kata', ['totp']);
    const uid = await core.interaction();
    await core.deps.signIns.chooseMethod(uid, FROM, 'totp');
    await core.deps.signIns.password(uid, FROM, { username: 'kodos.kata', password: PASSWORD });
    expect(await core.deps.signIns.status(uid, FROM)).toEqual({ kind: 'status', status: 'none' });
  });
});

/** Who confirms an enrollment: the portal's requester, with a settled language. */
const WHO = { ip: FROM.ip, lang: 'hu' as const, browser: null };

describe('setting up a factor (enrollment)', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore();
  });
  afterAll(async () => {
    await core?.close();
  });

  const kinds = async (accountId: string) => (await core.deps.repos.factors.kinds(accountId)).sort();

  test('emailed code: "Ügyfélkapu+ igénylés – Megerősítő kód", a wrong code costs a try, the right one activates and "Sikeres Ügyfélkapu+ igénylés" follows', async () => {
    const account = await core.account('igenylo.ilona');
    const begun = await core.deps.enrollments.begin(account.id, 'email', 'hu');
    if (!begun.ok) throw new Error('not begun');
    const [mail] = await core.deliver();
    expect({ to: mail!.to, subject: mail!.subject }).toEqual({ to: account.email, subject: 'Ügyfélkapu+ igénylés – Megerősítő kód' });
    expect(mail!.text).toContain('10 percig');
    const { code } = codeOf(mail!);

    const wrong = await core.deps.enrollments.confirm(account.id, begun.enrollmentId, { code: code === '000000' ? '111111' : '000000' }, WHO);
    expect(wrong).toEqual({ ok: false, refusal: 'wrong_answer', notice: { key: 'code.invalid', vars: { left: 4 }, error: true } });
    expect(await kinds(account.id)).toEqual([]);

    expect(await core.deps.enrollments.confirm(account.id, begun.enrollmentId, { code }, WHO)).toMatchObject({ ok: true });
    expect(await kinds(account.id)).toEqual(['email']);
    const [done] = await core.deliver();
    expect(done!.subject).toBe('Sikeres Ügyfélkapu+ igénylés');
    expect(done!.text).not.toMatch(/\b\d{6}\b/);
    // Used once: the same enrollment cannot be confirmed again — sent again (a reload), it is told it is done, and nothing happens twice.
    expect(await core.deps.enrollments.confirm(account.id, begun.enrollmentId, { code }, WHO)).toMatchObject({ ok: false, refusal: 'done' });
    expect(await kinds(account.id)).toEqual(['email']);
    expect((await core.deliver())[0]).toBe(done);
  });

  test('an enrollment code is bound to its account and enrollment, and dies after ten minutes', async () => {
    const anna = await core.account('kotott.anna');
    const bela = await core.account('kotott.bela');
    const forAnna = await core.deps.enrollments.begin(anna.id, 'email', 'hu');
    if (!forAnna.ok) throw new Error('not begun');
    const { code } = codeOf((await core.deliver())[0]!);
    expect(await core.deps.enrollments.confirm(bela.id, forAnna.enrollmentId, { code }, WHO)).toMatchObject({ ok: false, refusal: 'expired' });
    core.clock.advance(10 * 60 + 1);
    expect(await core.deps.enrollments.confirm(anna.id, forAnna.enrollmentId, { code }, WHO)).toMatchObject({ ok: false, refusal: 'expired' });
    expect(await kinds(anna.id)).toEqual([]);
  });

  test('authenticator app: the key is shown as a QR code and text, the first code activates it, and that code cannot sign in again', async () => {
    const account = await core.account('uj.telefon', ['email']);
    const begun = await core.deps.enrollments.begin(account.id, 'totp', 'hu');
    if (!begun.ok) throw new Error('not begun');
    const page = await core.deps.uow.transaction((r) => core.deps.enrollments.view(r, { ...account, name: 'x' }, begun.enrollmentId, 'hu'));
    const data = page!.view.data as { uri: string; secret: string; qr: string };
    const uri = new URL(data.uri);
    expect(uri.protocol).toBe('otpauth:');
    const secret = uri.searchParams.get('secret')!;
    expect(data.secret.replace(/-/g, '')).toBe(secret);
    expect(data.qr).toMatch(/^data:image\/svg\+xml;base64,/);
    // Kept sealed meanwhile: the secret is nowhere in the database in the clear.
    const stored = await core.deps.db.selectFrom('enrollment').select('secret_sealed').where('id', '=', begun.enrollmentId).executeTakeFirstOrThrow();
    expect(stored.secret_sealed).not.toContain(secret);

    const code = await generate({ secret, epoch: Math.floor(core.clock.now().getTime() / 1000) });
    const confirmed = await core.deps.enrollments.confirm(account.id, begun.enrollmentId, { code }, WHO);
    expect(confirmed).toMatchObject({ ok: true, shownOnce: { recoveryCode: expect.stringMatching(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/) } });
    expect(await kinds(account.id)).toEqual(['email', 'totp']);

    const uid = await core.interaction();
    await core.deps.signIns.chooseMethod(uid, FROM, 'totp');
    await core.deps.signIns.password(uid, FROM, { username: 'uj.telefon', password: PASSWORD });
    expect(await core.deps.signIns.verify(uid, FROM, { code })).toMatchObject({ kind: 'refused', notice: { key: 'totp.invalid' } });

    const owner = { id: account.id, username: account.username, name: 'x', email: account.email };
    expect(await core.deps.uow.transaction((r) => core.deps.enrollments.remove(r, owner, 'totp', 'hu', 'citizen'))).toBe(true);
    expect(await kinds(account.id)).toEqual(['email']);
  });

  test('malformed proof costs nothing; an unknown factor cannot be begun', async () => {
    const account = await core.account('formatum.feri');
    const begun = await core.deps.enrollments.begin(account.id, 'email', 'hu');
    if (!begun.ok) throw new Error('not begun');
    expect(await core.deps.enrollments.confirm(account.id, begun.enrollmentId, { code: 'abc' }, WHO)).toMatchObject({ ok: false, refusal: 'invalid_input' });
    expect(await core.deps.db.selectFrom('auth_throttle').select('key').where('key', '=', `factor:${account.id}`).executeTakeFirst()).toBeUndefined();
    expect(await core.deps.enrollments.begin(account.id, 'eszemelyi', 'hu')).toMatchObject({ ok: false, refusal: 'unknown' });
  });
});
