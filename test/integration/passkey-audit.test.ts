/**
 * A refused passkey answer is audited with the ceremony's reason (issue 19): an answer made on
 * another origin, or signed for another RP ID, is what a phishing page relaying the sign-in
 * sends, and operators should see it as such. The audit detail holds the reason as a word and
 * nothing of the answer (no challenge, no signature, no key). The sign-in core on a real database.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Outcome } from '../../src/auth/outcomes.ts';
import { type CoreHarness, CLIENT_ID, FROM, ISSUER, startCore } from '../helpers/core.ts';
import { addPasskey } from '../helpers/passkey-account.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';

const PASSKEY = 'passkey';

let core: CoreHarness;
beforeAll(async () => {
  core = await startCore();
});
afterAll(async () => {
  await core?.close();
});

/** A passwordless passkey sign-in ("Bejelentkezés passkey-jel"): its uid and the options its page carries. */
async function passwordless() {
  const uid = await core.interaction();
  expect((await core.deps.signIns.chooseMethod(uid, FROM, PASSKEY)).kind).toBe('advanced');
  const shown = await core.deps.signIns.show(uid, FROM, null);
  if (shown.kind !== 'show' || shown.shown.page.state !== 'factor') throw new Error(`not the passkey's page: ${shown.kind}`);
  return { uid, options: JSON.parse(String(shown.shown.page.view.data['options'])) as PublicKeyCredentialRequestOptionsJSON };
}

/** The newest failed factor answer of this client's sign-ins, as the audit log holds it. */
async function lastFailure(): Promise<Record<string, unknown>> {
  const [event] = await core.deps.repos.audit.list({ clientId: CLIENT_ID, types: ['signin.factor_failed'], limit: 1 });
  if (!event) throw new Error('no failure audited');
  return event.detail;
}

const refused = (outcome: Outcome) => (outcome.kind === 'refused' ? outcome.notice : outcome.kind);

test('an answer made on another origin is refused, and audited as such, with nothing of the answer', async () => {
  const account = await core.account('adathalasz.celpont');
  const authenticator = await addPasskey(core.deps, account, new SoftwareAuthenticator(new URL(ISSUER).origin));
  const { uid, options } = await passwordless();
  const phished = authenticator.get(options, { origin: 'https://ugyfelkapu.example.com' });
  // The citizen is told what every refusal tells; the reason is for the audit log.
  expect(refused(await core.deps.signIns.verify(uid, FROM, { credential: JSON.stringify(phished) }))).toEqual({ key: 'passkey.refused', error: true });
  const detail = await lastFailure();
  expect(detail).toEqual({ factor: PASSKEY, reason: 'passkey.refused', refusal: 'wrong_origin' });
  const stored = JSON.stringify(detail);
  for (const secret of [options.challenge, phished.response.signature, phished.response.clientDataJSON, phished.response.authenticatorData]) expect(stored).not.toContain(secret);
});

test('an answer signed for another RP ID is audited as such', async () => {
  const account = await core.account('rpid.celpont');
  const authenticator = await addPasskey(core.deps, account, new SoftwareAuthenticator(new URL(ISSUER).origin));
  const { uid, options } = await passwordless();
  const answer = authenticator.get(options, { rpId: 'ugyfelkapu.example.com' });
  expect(refused(await core.deps.signIns.verify(uid, FROM, { credential: JSON.stringify(answer) }))).toEqual({ key: 'passkey.refused', error: true });
  expect(await lastFailure()).toEqual({ factor: PASSKEY, reason: 'passkey.refused', refusal: 'wrong_rp_id' });
});
