/**
 * A passkey proves a new password (issue 19, item 4), the core on a real database: a forgotten
 * password asks for the mailed code and ANY ONE of the account's own proofs (the app's code or a
 * passkey), so a citizen who lost one device still gets back in. The forgotten password's page
 * names no account: its passkey part is the passwordless ceremony, and the credential is then
 * checked to be the request's account's. Its challenge is bound to the request and used once.
 * The portal's password change asks any one of the account's proofs the same way.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Who } from '../../src/auth/who.ts';
import { type CoreHarness, ISSUER, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';
import { addPasskey } from '../helpers/passkey-account.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';

const PASSKEY = 'passkey';
const NEW_PASSWORD = 'egy hosszú új jelszó 2026';

let core: CoreHarness;
beforeAll(async () => {
  core = await startCore();
});
afterAll(async () => {
  await core?.close();
});

let people = 0;
/** Each request from an address of its own: a name may ask only a few times an hour from one. */
const from = (): Who => ({ ip: `192.0.2.${100 + (people % 100)}`, lang: 'hu', browser: null });

/** A citizen with the app and one passkey (held by `authenticator`), added through the factor's own setup. */
async function citizen(authenticator = new SoftwareAuthenticator(new URL(ISSUER).origin)) {
  people += 1;
  const account = await core.account(`visszaallitas.${people}`, ['totp']);
  return { ...account, authenticator: await addPasskey(core.deps, account, authenticator) };
}

/** A forgotten password's request, the code its mail carries, and its page's passkey options. */
async function resetRequest(account: { username: string; email: string }) {
  people += 1;
  const who = from();
  const begun = await core.deps.recovery.beginReset(account.username, who);
  if (!begun.ok) throw new Error('reset refused');
  const mail = (await core.deliver()).find((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – elfelejtett jelszó');
  const code = /Kód: (\d{6})/.exec(mail?.text ?? '')?.[1];
  if (!code) throw new Error('no reset code mailed');
  return { id: begun.changeId, code, who, options: await pageOptions(begun.changeId) };
}

/** The passkey options the forgotten password's page carries (a fresh challenge each time it is shown). */
async function pageOptions(requestId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const parts = await core.deps.recovery.resetProofs(requestId, 'hu');
  const part = parts.find((p) => typeof p.data['options'] === 'string');
  if (!part) throw new Error('the page has no passkey part');
  return JSON.parse(String(part.data['options'])) as PublicKeyCredentialRequestOptionsJSON;
}

const form = (code: string, extra: Record<string, string>) => ({ code, password: NEW_PASSWORD, password2: NEW_PASSWORD, ...extra });

async function passwordIs(accountId: string, password: string): Promise<boolean> {
  const row = await core.deps.db.selectFrom('account').select('password_hash').where('id', '=', accountId).executeTakeFirstOrThrow();
  return (await core.deps.passwords.verify(row.password_hash, password)).ok;
}

/** What the audit log says of the account's failed proofs of a new password. */
async function failedProofs(accountId: string) {
  const events = await core.deps.repos.audit.list({ accountId, types: ['signin.factor_failed'], limit: 20 });
  return events.map((e) => e.detail).filter((d) => d['purpose'] === 'password');
}

describe('a forgotten password with the app and a passkey: any one of them, with the mailed code', () => {
  test('the passkey alone proves it: the page names no account (a passwordless ceremony), the answer is the account’s', async () => {
    const account = await citizen();
    const request = await resetRequest(account);
    expect(request.options).toMatchObject({ rpId: new URL(ISSUER).hostname, userVerification: 'required', allowCredentials: [] });
    const done = await core.deps.recovery.completeReset(request.id, form(request.code, { credential: JSON.stringify(account.authenticator.get(request.options)) }), request.who);
    expect(done).toEqual({ ok: true, accountId: account.id });
    expect(await passwordIs(account.id, NEW_PASSWORD)).toBe(true);
  });

  test('the app’s code alone proves it, with the passkey part left empty', async () => {
    const account = await citizen();
    const request = await resetRequest(account);
    toMiddleOfStep(core.clock);
    const done = await core.deps.recovery.completeReset(request.id, form(request.code, { app_code: await appCode(account.totpSecret!, core.clock), credential: '' }), request.who);
    expect(done).toEqual({ ok: true, accountId: account.id });
  });

  test('the mailed code with neither is refused, and audited as a failed proof', async () => {
    const account = await citizen();
    const request = await resetRequest(account);
    const done = await core.deps.recovery.completeReset(request.id, form(request.code, { credential: '' }), request.who);
    expect(done).toMatchObject({ ok: false, notice: { key: 'account.reset_failed' } });
    expect(await passwordIs(account.id, PASSWORD)).toBe(true);
    expect(await failedProofs(account.id)).toEqual([{ purpose: 'password' }]);
  });

  test('a passkey of another account is refused (the reason audited), and changes nobody’s password', async () => {
    const account = await citizen();
    const other = await citizen();
    const request = await resetRequest(account);
    const done = await core.deps.recovery.completeReset(request.id, form(request.code, { credential: JSON.stringify(other.authenticator.get(request.options)) }), request.who);
    expect(done).toMatchObject({ ok: false, notice: { key: 'account.reset_failed' } });
    expect(await passwordIs(account.id, PASSWORD)).toBe(true);
    expect(await passwordIs(other.id, PASSWORD)).toBe(true);
    expect(await failedProofs(account.id)).toEqual([{ factor: PASSKEY, purpose: 'password', refusal: 'wrong_account' }]);
  });

  test('the challenge of one reset request is refused on another', async () => {
    const account = await citizen();
    const first = await resetRequest(account);
    const second = await resetRequest(account);
    const answer = JSON.stringify(account.authenticator.get(first.options));
    const done = await core.deps.recovery.completeReset(second.id, form(second.code, { credential: answer }), second.who);
    expect(done).toMatchObject({ ok: false });
    expect(await failedProofs(account.id)).toEqual([{ factor: PASSKEY, purpose: 'password', refusal: 'challenge_unknown' }]);
  });

  test('a replayed answer is refused: an earlier page’s, and one that already set a password', async () => {
    const account = await citizen();
    const request = await resetRequest(account);
    const earlier = JSON.stringify(account.authenticator.get(request.options));
    // The page shown again has a fresh challenge; the earlier one is used up.
    const fresh = await pageOptions(request.id);
    const stale = await core.deps.recovery.completeReset(request.id, form(request.code, { credential: earlier }), request.who);
    expect(stale).toMatchObject({ ok: false });
    expect(await failedProofs(account.id)).toEqual([{ factor: PASSKEY, purpose: 'password', refusal: 'challenge_used' }]);

    const answer = JSON.stringify(account.authenticator.get(fresh));
    expect(await core.deps.recovery.completeReset(request.id, form(request.code, { credential: answer }), request.who)).toMatchObject({ ok: true });
    const again = await core.deps.recovery.completeReset(request.id, { ...form(request.code, { credential: answer }), password: 'még egy új jelszó', password2: 'még egy új jelszó' }, request.who);
    expect(again).toMatchObject({ ok: false });
    expect(await passwordIs(account.id, NEW_PASSWORD)).toBe(true);
  });
});

describe('a new password in the portal, for an account with the app and a passkey', () => {
  const sessionOf = (account: { id: string; username: string; email: string }) => ({
    id: `session-${account.id}`,
    signedInAt: core.clock.now(),
    account: { id: account.id, username: account.username, name: 'Teszt', email: account.email, factorKinds: ['totp', PASSKEY] },
  });

  test('the current password, then the account’s passkey alone (its own credentials offered) proves it', async () => {
    const account = await citizen();
    const session = sessionOf(account);
    people += 1;
    const begun = await core.deps.account.newPassword.begin(session, PASSWORD, from());
    if (!begun.ok) throw new Error('refused');
    const page = await core.deps.account.newPassword.page(session, begun.changeId, 'hu');
    expect(page?.proofs.map((p) => p.id)).toEqual(['totp', PASSKEY]);
    const options = JSON.parse(String(page!.proofs[1]!.data['options'])) as PublicKeyCredentialRequestOptionsJSON;
    expect(options.allowCredentials).toHaveLength(1);
    // Neither answered: nothing to check, and no guess counted.
    expect(await core.deps.account.newPassword.complete(begun.changeId, { password: NEW_PASSWORD, password2: NEW_PASSWORD, credential: '' }, from(), session)).toMatchObject({ ok: false, notice: { key: 'account.proof_missing' } });
    const done = await core.deps.account.newPassword.complete(begun.changeId, { password: NEW_PASSWORD, password2: NEW_PASSWORD, credential: JSON.stringify(account.authenticator.get(options)) }, from(), session);
    expect(done).toEqual({ ok: true });
    expect(await passwordIs(account.id, NEW_PASSWORD)).toBe(true);
  });

  test('another session’s change shows no page and makes no challenge', async () => {
    const account = await citizen();
    const stranger = await citizen();
    const begun = await core.deps.account.newPassword.begin(sessionOf(account), PASSWORD, from());
    if (!begun.ok) throw new Error('refused');
    expect(await core.deps.account.newPassword.page(sessionOf(stranger), begun.changeId, 'hu')).toBeUndefined();
  });
});
