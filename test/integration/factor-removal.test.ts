/**
 * Whatever removes a factor removes what the factor owns (issue 15, item 10): the operator's
 * `account remove-factor`, the portal's removal of a factor or of the last phone. After each,
 * nothing the factor had proves anything: the phone's approval is refused and signs nobody in,
 * a challenge waiting for it is refused, a mailed code no longer finishes a sign-in, and a setup
 * begun before cannot bring it back. (The app's secret and törlőkód live in its factor row,
 * which every removal deletes; the lost phone's törlőkód removes it through the same path.)
 * The core and the repositories on a real database; one e2e test shows the device API.
 */
import { DAP_REPOSITORY } from '../../src/factors/dap/repository.ts';
import { DeviceService } from '../../src/factors/dap/devices.ts';
import { randomUUID } from 'node:crypto';
import { removeFactor } from '../../src/admin/accounts.ts';
import type { PortalSession } from '../../src/auth/portal-sessions.ts';
import type { Outcome } from '../../src/auth/outcomes.ts';
import type { ApiResult } from '../../src/factors/dap/devices.ts';
import type { Who } from '../../src/auth/who.ts';
import { enrollMessage } from '../../src/factors/dap/protocol.ts';
import { type CoreHarness, FROM, ISSUER, codeOf, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';
import { type ChallengeInfo, PIN, Phone, tokenOf } from '../helpers/phone.ts';

const CALLER: Who = { ip: '192.0.2.77', lang: 'hu', browser: null };
const WHO = { ip: FROM.ip, lang: 'hu' as const, browser: null };

let core: CoreHarness;
/** The DÁP app's device API, without HTTP. */
const devices = () => new DeviceService(core.deps.factorDeps);
beforeAll(async () => {
  core = await startCore();
});
afterAll(async () => {
  await core?.close();
});

let people = 0;
async function citizen(factors: string[]) {
  people += 1;
  return core.account(`eltavolitas.${people}`, factors);
}

/** The link a portal setup of the app shows (an enrollment begun for the account). */
async function enrollmentLink(accountId: string): Promise<string> {
  const { deps } = core;
  const begun = await deps.enrollments.begin(accountId, 'dap', 'hu');
  if (!begun.ok) throw new Error('enrollment refused');
  const account = (await deps.repos.accounts.findById(accountId))!;
  const shown = await deps.uow.transaction((r) => deps.enrollments.view(r, account, begun.enrollmentId, 'hu'));
  return (shown!.view.data as { link: string }).link;
}

/** The phone registers with an enrollment link, as the device API's POST /devices does. */
function enroll(phone: Phone, link: string) {
  const token = tokenOf(link, 'enroll');
  return devices().enroll({ token, name: 'Teszt telefon', publicKey: phone.publicJwk, pin: PIN, signature: phone.sign(enrollMessage(phone.origin, token)) }, CALLER);
}

/** A citizen with the emailed code and an enrolled phone. */
async function withPhone() {
  const account = await citizen(['email']);
  const phone = new Phone(ISSUER);
  const enrolled = await enroll(phone, await enrollmentLink(account.id));
  if (!enrolled.ok) throw new Error(`enrollment failed: ${enrolled.code}`);
  phone.deviceId = enrolled.value.device.id;
  return { account, phone };
}

/** What the phone shows for a sign-in's newest challenge, and the number the browser shows. */
async function challengeOf(uid: string, phone: Phone): Promise<{ info: ChallengeInfo; number: string }> {
  const latest = (await core.deps.repos.of(DAP_REPOSITORY).latest(uid))!;
  const shown = await devices().challenge(latest.id, phone.deviceId, CALLER);
  if (!shown.ok) throw new Error(`challenge refused: ${shown.code}`);
  return { info: shown.value as ChallengeInfo, number: latest.number };
}

function approve(phone: Phone, challenge: { info: ChallengeInfo; number: string }): Promise<ApiResult<unknown>> {
  return devices().approve(challenge.info.challengeId, phone.approvalBody(challenge.info, challenge.number), CALLER);
}

/** A portal session of the account, as a finished portal sign-in opens one. */
async function portalSession(accountId: string): Promise<PortalSession> {
  const { deps } = core;
  const opened = await deps.uow.transaction((r) => deps.portalSessions.open(r, accountId, { ip: FROM.ip, browser: null }, randomUUID()));
  return (await deps.portalSessions.resolve(opened.token))!;
}

/** A sign-in at the RP, at the factor's step after the password. */
async function atFactor(username: string, method: string): Promise<string> {
  const uid = await core.interaction();
  await core.deps.signIns.chooseMethod(uid, FROM, method);
  const outcome = await core.deps.signIns.password(uid, FROM, { username, password: PASSWORD });
  expect(outcome.kind).toBe('advanced');
  return uid;
}

const notFinished = (outcome: Outcome) => expect(outcome.kind).not.toBe('finished');

type Removal = (account: { id: string; username: string }, phone: Phone) => Promise<void>;

const REMOVALS: Array<[string, Removal]> = [
  ["the operator's account remove-factor USER dap", (account) => removeFactor(core.deps, account.username, 'dap')],
  [
    "the portal's removal of the app",
    async (account) => {
      const done = await core.deps.account.removeFactor(await portalSession(account.id), 'dap', PASSWORD, WHO);
      expect(done.ok).toBe(true);
    },
  ],
  [
    "the portal's removal of the last phone",
    async (account, phone) => {
      const done = await core.deps.account.removeDevice(await portalSession(account.id), 'dap', phone.deviceId!, PASSWORD, WHO);
      expect(done.ok).toBe(true);
    },
  ],
];

describe('the phone app (DÁP)', () => {
  test.each(REMOVALS)('%s: the phone’s approval is refused and signs nobody in; what waited for it is refused', async (_how, remove) => {
    const { account, phone } = await withPhone();
    // A sign-in with the phone alone, approved but not yet collected by its browser.
    const approvedUid = await core.interaction();
    await core.deps.signIns.chooseMethod(approvedUid, FROM, 'dap');
    expect(await approve(phone, await challengeOf(approvedUid, phone))).toMatchObject({ ok: true });
    // A sign-in after the password (the emailed code chosen, then the phone), waiting for the phone.
    const waitingUid = await atFactor(account.username, 'email');
    expect((await core.deps.signIns.chooseFactor(waitingUid, FROM, 'dap')).kind).toBe('advanced');
    const waiting = await challengeOf(waitingUid, phone);

    await remove(account, phone);

    notFinished(await core.deps.signIns.verify(approvedUid, FROM, {}));
    expect(await core.result(approvedUid)).toBeUndefined();
    expect(await core.deps.signIns.status(waitingUid, FROM)).toEqual({ kind: 'status', status: 'refused' });
    expect(await approve(phone, waiting)).toMatchObject({ ok: false, refusal: 'unknown', code: 'unknown_device' });
    notFinished(await core.deps.signIns.verify(waitingUid, FROM, {}));
    // A new sign-in: the phone is no one's any more.
    const freshUid = await core.interaction();
    await core.deps.signIns.chooseMethod(freshUid, FROM, 'dap');
    const fresh = (await core.deps.repos.of(DAP_REPOSITORY).latest(freshUid))!;
    expect(await devices().challenge(fresh.id, phone.deviceId, CALLER)).toMatchObject({ ok: false, refusal: 'unknown', code: 'unknown_device' });
    expect(await core.deps.repos.of(DAP_REPOSITORY).devices(account.id)).toEqual([]);
    expect(await core.deps.repos.factors.kinds(account.id)).toEqual(['email']);
  });

  test('a setup of the app begun before the operator removed it cannot bring it back', async () => {
    const { account } = await withPhone();
    const link = await enrollmentLink(account.id);
    await removeFactor(core.deps, account.username, 'dap');
    expect(await enroll(new Phone(ISSUER), link)).toMatchObject({ ok: false, refusal: 'expired', code: 'enrollment_invalid' });
    expect(await core.deps.repos.factors.kinds(account.id)).toEqual(['email']);
  });
});

describe('the emailed code', () => {
  test.each([
    ['the operator', (account: { username: string }) => removeFactor(core.deps, account.username, 'email')],
    [
      'the portal',
      async (account: { id: string }) => {
        expect((await core.deps.account.removeFactor(await portalSession(account.id), 'email', PASSWORD, WHO)).ok).toBe(true);
      },
    ],
  ])('removed by %s: a code mailed before no longer signs in, and no new one is sent', async (_who, remove) => {
    const account = await citizen(['email', 'totp']);
    const uid = await atFactor(account.username, 'email');
    const { code } = codeOf((await core.deliver())[0]!);

    await remove(account);

    notFinished(await core.deps.signIns.verify(uid, FROM, { code }));
    expect(await core.result(uid)).toBeUndefined();
    expect((await core.deps.signIns.resend(uid, FROM)).kind).toBe('bad_request');
    const live = await core.deps.repos.codes.live({ purpose: 'signin', flowId: uid, accountId: account.id });
    expect(live!.expires_at.getTime()).toBeLessThanOrEqual(core.clock.now().getTime());
  });
});

describe('a new password asks the proofs the registry knows', () => {
  test('a change stored with a proof kapu does not know (an older form, a factor gone) is void, never done without it', async () => {
    const account = await core.account('regi.valtozas', ['totp']);
    const session = await portalSession(account.id);
    const id = randomUUID();
    const now = core.clock.now();
    await core.deps.repos.pendingChanges.create({ id, accountId: account.id, kind: 'reset', value: 'app', now, expiresAt: new Date(now.getTime() + 600_000) });
    expect(await core.deps.account.newPassword.page(session, id, 'hu')).toBeUndefined();
    const done = await core.deps.account.newPassword.complete(id, { password: 'uj-jelszo-123', password2: 'uj-jelszo-123' }, WHO, session);
    expect(done).toMatchObject({ ok: false, refusal: 'wrong_answer' });
    expect((await core.deps.repos.pendingChanges.peekOpen(id, 'reset', core.clock.now()))?.id).toBe(id);
  });
});
