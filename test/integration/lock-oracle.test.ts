/**
 * Issue 15, item 1: a sign-in under a username lock (guarded) must not tell a right password from
 * a wrong one to anyone outside — not by /metrics, not by the number of statements it sends the
 * database (with any factor that has a guarded proof: the emailed code, the app, a passkey); nor may the failure that locks a username tell whether it is anyone's. The core on a
 * real database; the metrics are read from the registry /metrics serves.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Who } from '../../src/auth/who.ts';
import { USER_POLICY } from '../../src/security/throttle.ts';
import { type CoreHarness, FROM, ISSUER, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';
import { type Observed, observed } from '../helpers/observed.ts';
import { addPasskey } from '../helpers/passkey-account.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';

const STRANGER: Who = { ip: '203.0.113.66', lang: 'hu', browser: 'Chrome 131, Windows' };

describe('a lock looks the same from outside, whoever is behind it', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore();
  });
  afterAll(async () => {
    await core?.close();
  });

  async function atPassword(method: string): Promise<string> {
    const uid = await core.interaction();
    expect((await core.deps.signIns.chooseMethod(uid, FROM, method)).kind).toBe('advanced');
    return uid;
  }

  async function lockOut(username: string): Promise<void> {
    for (let i = 0; i < USER_POLICY.freeFailures + 1; i += 1) {
      expect((await core.deps.signIns.password(await atPassword('legacy'), STRANGER, { username, password: `guess ${i}` })).kind).toBe('refused');
    }
  }

  const observe = <T>(step: () => Promise<T>) => observed(core.deps, step);

  /** Two steps look the same from outside: each ended as `outcome` (when given), the same statements, the same counts. */
  function expectAlike(one: Observed<unknown>, other: Observed<unknown>, outcome?: Record<string, unknown>): void {
    if (outcome) {
      expect(one.outcome).toMatchObject(outcome);
      expect(other.outcome).toMatchObject(outcome);
    }
    expect(other.statements).toBe(one.statements);
    expect(other.metrics).toEqual(one.metrics);
  }

  test.each(['email', 'totp'])('with %s chosen: the password step and a wrong code cost the same and count the same', async (method) => {
    const username = `ostromlott.${method}`;
    await core.account(username, ['email', 'totp']);
    await lockOut(username);

    const [rightUid, wrongUid] = [await atPassword(method), await atPassword(method)];
    const right = await observe(() => core.deps.signIns.password(rightUid, FROM, { username, password: PASSWORD }));
    const wrong = await observe(() => core.deps.signIns.password(wrongUid, FROM, { username, password: 'not the password' }));
    expectAlike(right, wrong, { kind: 'advanced' });
    expect(Object.keys(right.metrics).length).toBeGreaterThan(0);

    // A wrong code on either proof: the same again.
    const rightAnswer = await observe(() => core.deps.signIns.verify(rightUid, FROM, { code: '000001' }));
    const wrongAnswer = await observe(() => core.deps.signIns.verify(wrongUid, FROM, { code: '000001' }));
    expectAlike(rightAnswer, wrongAnswer, { kind: 'refused', refusal: 'wrong_answer' });
  });

  test('with the passkey chosen, its password way: the password step and a refused passkey cost the same and count the same', async () => {
    const origin = new URL(ISSUER).origin;
    const username = 'ostromlott.passkey';
    await addPasskey(core.deps, await core.account(username, ['email']), new SoftwareAuthenticator(origin));
    const stranger = await addPasskey(core.deps, await core.account('idegen.passkey', ['email']), new SoftwareAuthenticator(origin));
    await lockOut(username);
    // "Bejelentkezés passkey-jel", then "Felhasználónévvel és jelszóval kezdem".
    const viaPasskey = async () => {
      const uid = await core.interaction();
      expect((await core.deps.signIns.chooseMethod(uid, FROM, 'passkey')).kind).toBe('advanced');
      expect((await core.deps.signIns.usePassword(uid, FROM)).kind).toBe('advanced');
      return uid;
    };
    const optionsOf = async (uid: string) => {
      const shown = await core.deps.signIns.show(uid, FROM, null);
      if (shown.kind !== 'show' || shown.shown.page.state !== 'factor') throw new Error(`no proof page: ${shown.kind}`);
      return JSON.parse(String(shown.shown.page.view.data['options'])) as PublicKeyCredentialRequestOptionsJSON;
    };

    const [rightUid, wrongUid] = [await viaPasskey(), await viaPasskey()];
    const right = await observe(() => core.deps.signIns.password(rightUid, FROM, { username, password: PASSWORD }));
    const wrong = await observe(() => core.deps.signIns.password(wrongUid, FROM, { username, password: 'not the password' }));
    expectAlike(right, wrong, { kind: 'advanced' });

    // Someone else's passkey (a real one, rightly signed) on either proof: the same again.
    const [rightOptions, wrongOptions] = [await optionsOf(rightUid), await optionsOf(wrongUid)];
    expect(wrongOptions.allowCredentials).toEqual(rightOptions.allowCredentials);
    const rightAnswer = await observe(() => core.deps.signIns.verify(rightUid, FROM, { credential: JSON.stringify(stranger.get(rightOptions)) }));
    const wrongAnswer = await observe(() => core.deps.signIns.verify(wrongUid, FROM, { credential: JSON.stringify(stranger.get(wrongOptions)) }));
    expectAlike(rightAnswer, wrongAnswer, { kind: 'refused', refusal: 'wrong_answer' });
  });

  test('the stand-in mail costs the sender what the real one does, and goes to nobody', async () => {
    const account = await core.account('celpont.cecil', ['email']);
    await lockOut('celpont.cecil');
    await core.deliver();
    const inbox = core.deps.devMailbox!.list().length;

    await core.deps.signIns.password(await atPassword('email'), FROM, { username: 'celpont.cecil', password: PASSWORD });
    const real = await observe(() => core.deps.sender.deliverDue());
    await core.deps.signIns.password(await atPassword('email'), FROM, { username: 'celpont.cecil', password: 'not the password' });
    const standIn = await observe(() => core.deps.sender.deliverDue());

    expectAlike(real, standIn);
    // One mail reached anyone: the real code, to the citizen.
    const mails = core.deps.devMailbox!.list().slice(0, core.deps.devMailbox!.list().length - inbox);
    expect(mails.map((m) => m.to)).toEqual([account.email]);
    expect(await core.deps.repos.outbox.pendingCount()).toBe(0);
  });

  test('the failure that locks a username costs the same for a citizen and for a made-up name', async () => {
    await core.account('valodi.vilma');
    const lockingFailure = async (username: string) => {
      for (let i = 0; i < USER_POLICY.freeFailures - 1; i += 1) await core.deps.signIns.password(await atPassword('legacy'), STRANGER, { username, password: `guess ${i}` });
      const uid = await atPassword('legacy');
      return observe(() => core.deps.signIns.password(uid, STRANGER, { username, password: 'the last guess' }));
    };
    const real = await lockingFailure('valodi.vilma');
    const madeUp = await lockingFailure('kitalalt.kalman');
    expect(real.outcome).toMatchObject({ kind: 'refused', refusal: 'wrong_credentials' });
    expectAlike(real, madeUp);
    // The citizen is told; the made-up name's mail goes to nobody.
    const sent = await core.deliver();
    expect(sent.filter((m) => m.to === 'valodi.vilma@example.hu')).toHaveLength(1);
    expect(sent.filter((m) => m.to === '')).toHaveLength(0);
  });
});
