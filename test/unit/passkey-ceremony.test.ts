/**
 * The passkey ceremonies' rules (issue 19), with attestations and assertions a software
 * authenticator makes: what a phishing page, a replay, a late answer or a cloned key gets.
 */
import { cryptoRandom } from '../../src/clock.ts';
import { PasskeyCeremony, parsePasskeyName } from '../../src/factors/passkey/ceremony.ts';
import { TestClock } from '../helpers/clock.ts';
import { MemoryPasskeyStore } from '../helpers/passkey-store.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';

const ISSUER = 'https://login.example.hu';
const ACCOUNT = { id: 'acc-1', username: 'kovacs.anna', name: 'Kovács Anna' };
const TTL = 600;

function setup(options: { synced?: boolean } = {}) {
  const clock = new TestClock();
  const store = new MemoryPasskeyStore();
  const ceremony = new PasskeyCeremony({ issuer: ISSUER, rpName: 'Ügyfélkapu+', clock, random: cryptoRandom, challengeSeconds: TTL });
  const authenticator = new SoftwareAuthenticator(ISSUER, options);
  return { clock, store, ceremony, authenticator };
}

/** A citizen with one passkey registered in the portal. */
async function registered(options: { synced?: boolean } = {}) {
  const s = setup(options);
  const created = s.authenticator.create(await s.ceremony.registrationOptions(s.store, { flowId: 'portal-1', account: ACCOUNT }));
  const result = await s.ceremony.register(s.store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: JSON.stringify(created), name: 'Laptop' });
  expect(result.ok).toBe(true);
  return s;
}

describe('adding a passkey', () => {
  test('asks for a discoverable credential with user verification, no attestation, for the issuer’s host', async () => {
    const { store, ceremony } = setup();
    const options = await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT });
    expect(options.rp).toEqual({ id: 'login.example.hu', name: 'Ügyfélkapu+' });
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.timeout).toBe(TTL * 1000);
    // The user handle is random, not the account id an authenticator might show.
    expect(options.user.id).not.toContain(ACCOUNT.id);
    expect(options.user.name).toBe(ACCOUNT.username);
  });

  test('stores the passkey under the citizen’s name for it, with its backup flags', async () => {
    const { store } = await registered({ synced: true });
    expect(store.credentials).toEqual([expect.objectContaining({ accountId: ACCOUNT.id, name: 'Laptop', backupEligible: true, backedUp: true, counter: 0, transports: ['internal'] })]);
  });

  test('a second passkey keeps the account’s user handle, and the first one is excluded from its options', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT });
    expect(options.excludeCredentials?.map((c) => c.id)).toEqual([store.credentials[0]?.credentialId]);
    const second = new SoftwareAuthenticator(ISSUER).create(options);
    expect((await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: second, name: 'Telefon' })).ok).toBe(true);
    expect(store.credentials.map((c) => c.userHandle)).toEqual([store.credentials[0]?.userHandle, store.credentials[0]?.userHandle]);
    expect(authenticator.credentials).toHaveLength(1);
  });

  test('an answer made on another site is refused (wrong origin)', async () => {
    const { store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }), { origin: 'https://login.example.hu.evil.test' });
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'wrong_origin' });
    expect(store.credentials).toEqual([]);
  });

  test('a credential for another RP ID is refused', async () => {
    const { store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }), { rpId: 'example.hu' });
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'wrong_rp_id' });
  });

  test('an authenticator that did not verify the user is refused: every passkey must serve passwordless sign-in', async () => {
    const { store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }), { userVerified: false });
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'user_verification' });
  });

  test('the same answer twice adds one passkey (the challenge is used up)', async () => {
    const { store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }));
    expect((await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).ok).toBe(true);
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'challenge_used' });
    expect(store.credentials).toHaveLength(1);
  });

  test('a challenge of another portal session or account is not this one’s', async () => {
    const { store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }));
    expect(await ceremony.register(store, { flowId: 'portal-2', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'challenge_unknown' });
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: 'acc-2', response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'wrong_account' });
  });

  test('an answer after CODE_TTL_SECONDS is refused', async () => {
    const { clock, store, ceremony, authenticator } = setup();
    const created = authenticator.create(await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT }));
    clock.advance(TTL);
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response: created, name: 'Laptop' })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test.each([
    ['text that is not JSON', 'not json'],
    ['an empty object', '{}'],
    ['a credential without client data', JSON.stringify({ id: 'x', type: 'public-key', response: {} })],
    ['20 000 characters', 'x'.repeat(20_000)],
  ])('%s is no answer at all', async (_what, response) => {
    const { store, ceremony } = setup();
    await ceremony.registrationOptions(store, { flowId: 'portal-1', account: ACCOUNT });
    expect(await ceremony.register(store, { flowId: 'portal-1', accountId: ACCOUNT.id, response, name: 'Laptop' })).toEqual({ ok: false, reason: 'invalid_response' });
  });
});

describe('signing in with a passkey', () => {
  test('as the second factor: the account’s passkeys are allowed, and the RP learns hwk for a device-bound key', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect(options.rpId).toBe('login.example.hu');
    expect(options.userVerification).toBe('preferred');
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([store.credentials[0]?.credentialId]);
    const result = await ceremony.authenticate(store, { flowId: 'uid-1', response: JSON.stringify(authenticator.get(options, { userVerified: false })) });
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ accountId: ACCOUNT.id, credential: { id: store.credentials[0]?.id, name: 'Laptop' }, userVerified: false, amr: ['hwk'] }) });
    expect(store.credentials[0]).toMatchObject({ counter: 1, lastUsedAt: expect.any(Date) });
  });

  test('passwordless: no account named, user verification required; a synced passkey is swk and user', async () => {
    const { store, ceremony, authenticator } = await registered({ synced: true });
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: null });
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials).toEqual([]);
    const result = await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(options) });
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ accountId: ACCOUNT.id, userVerified: true, multiDevice: true, backedUp: true, amr: ['swk', 'user'] }) });
  });

  test('passwordless without user verification is refused', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: null });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(options, { userVerified: false }) })).toEqual({ ok: false, reason: 'user_verification' });
  });

  test('an assertion made on a phishing page is refused (wrong origin)', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    const response = authenticator.get(options, { origin: 'https://ugyfelkapu-login.example.com' });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response })).toEqual({ ok: false, reason: 'wrong_origin' });
  });

  test('an assertion for another RP ID is refused', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(options, { rpId: 'example.hu' }) })).toEqual({ ok: false, reason: 'wrong_rp_id' });
  });

  test('a replayed assertion is refused: its challenge is used up', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    const response = authenticator.get(options);
    expect((await ceremony.authenticate(store, { flowId: 'uid-1', response })).ok).toBe(true);
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response })).toEqual({ ok: false, reason: 'challenge_used' });
  });

  test('an assertion for another sign-in’s challenge is refused', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect(await ceremony.authenticate(store, { flowId: 'uid-2', response: authenticator.get(options) })).toEqual({ ok: false, reason: 'challenge_unknown' });
  });

  test('a challenge older than CODE_TTL_SECONDS is refused, and a new one replaces the old', async () => {
    const { clock, store, ceremony, authenticator } = await registered();
    const first = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    clock.advance(TTL);
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(first) })).toEqual({ ok: false, reason: 'challenge_expired' });
    const older = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    const newer = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(older) })).toEqual({ ok: false, reason: 'challenge_used' });
    expect((await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(newer) })).ok).toBe(true);
  });

  test('a counter going back (a cloned key) is refused, and the stored counter stays', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect((await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(options, { counter: 7 }) })).ok).toBe(true);
    const again = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: authenticator.get(again, { counter: 5 }) })).toEqual({ ok: false, reason: 'counter' });
    expect(store.credentials[0]?.counter).toBe(7);
  });

  test('after a password, another account’s passkey is refused', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: 'acc-2' });
    const response = authenticator.get({ ...options, allowCredentials: [] });
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response })).toEqual({ ok: false, reason: 'wrong_account' });
  });

  test('a signature that does not verify is refused', async () => {
    const { store, ceremony, authenticator } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: ACCOUNT.id });
    const response = authenticator.get(options);
    const other = await registered();
    other.authenticator.credentials[0]!.id = authenticator.credentials[0]!.id;
    const forged = other.authenticator.get(options);
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: { ...response, response: { ...response.response, signature: forged.response.signature } } })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  test('an unknown credential is refused', async () => {
    const { store, ceremony } = await registered();
    const options = await ceremony.authenticationOptions(store, { flowId: 'uid-1', accountId: null });
    const stranger = new SoftwareAuthenticator(ISSUER);
    stranger.create(await setup().ceremony.registrationOptions(new MemoryPasskeyStore(), { flowId: 'x', account: ACCOUNT }));
    expect(await ceremony.authenticate(store, { flowId: 'uid-1', response: stranger.get(options) })).toEqual({ ok: false, reason: 'unknown_credential' });
  });
});

describe('a passkey’s name', () => {
  test.each([
    ['  Laptop  ', 'Laptop'],
    ['Anna telefonja\u0000', 'Anna telefonja'],
    ['é'.repeat(60), 'é'.repeat(60)],
  ])('%j is kept as %j', (typed, name) => {
    expect(parsePasskeyName(typed)).toBe(name);
  });

  test.each([[''], ['   '], ['x'.repeat(61)], [['Laptop']], [undefined]])('%j is no name', (typed) => {
    expect(parsePasskeyName(typed)).toBeUndefined();
  });
});
