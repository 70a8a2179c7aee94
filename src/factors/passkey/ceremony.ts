/**
 * The WebAuthn ceremonies, HTTP-free, on @simplewebauthn/server (the library owns the protocol:
 * CBOR, COSE keys, flags, signatures; kapu owns the challenges and the credentials):
 * - registration: options for `navigator.credentials.create` (a discoverable credential with
 *   user verification, attestation `none`: kapu trusts no vendor list and asks for none), then
 *   the browser's answer checked and stored under the name the citizen gave it;
 * - authentication: options for `navigator.credentials.get` (the account's credentials after a
 *   password; none, i.e. a discoverable credential, for a passwordless sign-in, which then
 *   requires user verification), then the assertion checked and its counter moved on.
 *
 * The RP ID is the issuer's host and the one origin accepted is the issuer's: a page on any
 * other site (a phishing copy of kapu) gets nothing an authenticator signs for kapu. A
 * challenge is random, made for one flow (the sign-in's interaction uid, or the portal's
 * enrollment), lives `challengeSeconds` (CODE_TTL_SECONDS, like an emailed code) and is used up
 * by the first answer that names it, right or wrong: an answer is never checked twice.
 *
 * The library is loaded by the first ceremony, not at start: with its X.509 and ASN.1 stack it
 * is about 80 modules, which a kapu whose citizens use no passkey never needs (and which every
 * test file that starts a kapu would load again: 0.25-0.3 s of CPU each).
 */
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { type Clock, type Random, addSeconds } from '../../clock.ts';
import { type CeremonyRefusal, classify, parseResponse } from './answers.ts';
import type { PasskeyRepository, UserVerification } from './repository.ts';

export { parsePasskeyName } from './answers.ts';

/** ES256, EdDSA, RS256: what platform authenticators and security keys make. */
const ALGORITHMS = [-7, -8, -257];

let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (library ??= import('@simplewebauthn/server'));

/** WebAuthn's binary values travel as base64url (challenges, handles, keys, clientDataJSON). */
const base64url = {
  encode: (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url'),
  decode: (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(Buffer.from(text, 'base64url')),
};

export interface CeremonyDeps {
  /** kapu's issuer URL: its host is the RP ID, its origin the only one accepted. */
  issuer: string;
  /** What an authenticator shows as the site's name. */
  rpName: string;
  clock: Clock;
  random: Random;
  /** How long a challenge lives (CODE_TTL_SECONDS). */
  challengeSeconds: number;
}

/** The store the ceremonies keep their challenges and credentials in. */
export type PasskeyStore = Pick<PasskeyRepository, 'issue' | 'consume' | 'descriptors' | 'userHandle' | 'add' | 'byCredentialId' | 'used'>;


export type { CeremonyRefusal };

export type CeremonyResult<T> = { ok: true; value: T } | { ok: false; reason: CeremonyRefusal };

export interface RegisteredPasskey {
  id: string;
  name: string;
  backupEligible: boolean;
  backedUp: boolean;
}

export interface Assertion {
  accountId: string;
  credential: { id: string; name: string };
  userVerified: boolean;
  /** Backup eligible: a synced passkey (a password manager's, a phone's cloud keychain). */
  multiDevice: boolean;
  backedUp: boolean;
  /**
   * RFC 8176 for what the authenticator reported: `hwk` for a key bound to one device (a
   * security key, a platform's secure element), `swk` for a synced one (its key lives in
   * software, copied between devices); `user` when it verified the user (PIN, fingerprint,
   * face: kapu cannot tell which, so no `pin` or `fpt`).
   */
  amr: string[];
}

export class PasskeyCeremony {
  readonly rpId: string;
  readonly origin: string;
  readonly #deps: CeremonyDeps;

  constructor(deps: CeremonyDeps) {
    const issuer = new URL(deps.issuer);
    this.rpId = issuer.hostname;
    this.origin = issuer.origin;
    this.#deps = deps;
  }

  /** Options for `navigator.credentials.create`, with a challenge bound to `flowId`. */
  async registrationOptions(store: PasskeyStore, r: { flowId: string; account: { id: string; username: string; name: string } }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { generateRegistrationOptions } = await webauthn();
    const challenge = this.#challenge();
    const handle = (await store.userHandle(r.account.id)) ?? base64url.encode(this.#deps.random.bytes(32));
    const options = await generateRegistrationOptions({
      rpName: this.#deps.rpName,
      rpID: this.rpId,
      userName: r.account.username,
      userDisplayName: r.account.name,
      userID: base64url.decode(handle),
      challenge: base64url.decode(challenge),
      timeout: this.#deps.challengeSeconds * 1000,
      attestationType: 'none',
      // The same authenticator twice would be one key under two names.
      excludeCredentials: await store.descriptors(r.account.id),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    await this.#issue(store, { challenge, purpose: 'register', flowId: r.flowId, accountId: r.account.id, userVerification: 'required', userHandle: handle });
    return options;
  }

  /** Checks the browser's answer to `registrationOptions` and stores the new passkey. */
  async register(store: PasskeyStore, r: { flowId: string; accountId: string; response: unknown; name: string }): Promise<CeremonyResult<RegisteredPasskey>> {
    const response = parseResponse<RegistrationResponseJSON>(r.response);
    if (!response) return refused('invalid_response');
    const consumed = await this.#consume(store, r.flowId, response, 'register');
    if (!consumed.ok) return consumed;
    if (consumed.value.accountId !== r.accountId) return refused('wrong_account');
    const { verifyRegistrationResponse } = await webauthn();
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: consumed.value.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (error) {
      return refused(classify(error));
    }
    if (!verified.verified) return refused('bad_signature');
    const info = verified.registrationInfo;
    // The handle the options gave; an account that got a passkey meanwhile keeps its own.
    const handle = (await store.userHandle(r.accountId)) ?? consumed.value.userHandle;
    if (!handle) return refused('invalid_response');
    const passkey = {
      id: this.#deps.random.uuid(),
      name: r.name,
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backedUp: info.credentialBackedUp,
    };
    const added = await store.add({
      id: passkey.id,
      accountId: r.accountId,
      credentialId: info.credential.id,
      publicKey: base64url.encode(info.credential.publicKey),
      userHandle: handle,
      counter: info.credential.counter,
      transports: (response.response.transports ?? []).filter((t) => typeof t === 'string' && /^[a-z-]{1,20}$/.test(t)),
      backupEligible: passkey.backupEligible,
      backedUp: passkey.backedUp,
      aaguid: info.aaguid,
      name: r.name,
      now: this.#deps.clock.now(),
    });
    return added ? { ok: true, value: passkey } : refused('registered_already');
  }

  /**
   * Options for `navigator.credentials.get`. With an account (a second factor after the
   * password), its passkeys are allowed and user verification is preferred; without one (a
   * passwordless sign-in), the authenticator offers its discoverable credentials for kapu and
   * must verify the user.
   */
  async authenticationOptions(store: PasskeyStore, r: { flowId: string; accountId: string | null }): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { generateAuthenticationOptions } = await webauthn();
    const challenge = this.#challenge();
    const userVerification: UserVerification = r.accountId ? 'preferred' : 'required';
    const options = await generateAuthenticationOptions({
      rpID: this.rpId,
      challenge: base64url.decode(challenge),
      timeout: this.#deps.challengeSeconds * 1000,
      userVerification,
      allowCredentials: r.accountId ? await store.descriptors(r.accountId) : [],
    });
    await this.#issue(store, { challenge, purpose: 'authenticate', flowId: r.flowId, accountId: r.accountId, userVerification });
    return options;
  }

  /** Checks an assertion against the flow's challenge and the credential it names. */
  async authenticate(store: PasskeyStore, r: { flowId: string; response: unknown }): Promise<CeremonyResult<Assertion>> {
    const response = parseResponse<AuthenticationResponseJSON>(r.response);
    if (!response) return refused('invalid_response');
    const consumed = await this.#consume(store, r.flowId, response, 'authenticate');
    if (!consumed.ok) return consumed;
    const { challenge, accountId, userVerification } = consumed.value;
    const credential = await store.byCredentialId(response.id);
    if (!credential) return refused('unknown_credential');
    // After a password, only that account's passkeys; a discoverable credential names its
    // account by its user handle, which must be the one kapu gave it.
    if (accountId !== null && credential.account_id !== accountId) return refused('wrong_account');
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== credential.user_handle) return refused('wrong_account');
    const { verifyAuthenticationResponse } = await webauthn();
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        credential: { id: credential.credential_id, publicKey: base64url.decode(credential.public_key), counter: credential.counter, transports: credential.transports as never },
        requireUserVerification: userVerification === 'required',
      });
    } catch (error) {
      return refused(classify(error));
    }
    if (!verified.verified) return refused('bad_signature');
    const info = verified.authenticationInfo;
    if (!(await store.used(credential.id, credential.counter, info.newCounter, info.credentialBackedUp, this.#deps.clock.now()))) return refused('counter');
    const multiDevice = info.credentialDeviceType === 'multiDevice';
    return {
      ok: true,
      value: {
        accountId: credential.account_id,
        credential: { id: credential.id, name: credential.name },
        userVerified: info.userVerified,
        multiDevice,
        backedUp: info.credentialBackedUp,
        amr: [multiDevice ? 'swk' : 'hwk', ...(info.userVerified ? ['user'] : [])],
      },
    };
  }

  // ---------------------------------------------------------------------------------------

  #challenge(): string {
    return base64url.encode(this.#deps.random.bytes(32));
  }

  async #issue(store: PasskeyStore, c: { challenge: string; purpose: 'register' | 'authenticate'; flowId: string; accountId: string | null; userVerification: UserVerification; userHandle?: string }): Promise<void> {
    const now = this.#deps.clock.now();
    await store.issue({ ...c, id: this.#deps.random.uuid(), now, expiresAt: addSeconds(now, this.#deps.challengeSeconds) });
  }

  /** Uses up the challenge the browser's answer carries, on this flow only. */
  async #consume(store: PasskeyStore, flowId: string, response: { response: { clientDataJSON: string; userHandle?: string } }, purpose: 'register' | 'authenticate') {
    let challenge: string;
    try {
      challenge = (JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge: unknown }).challenge as string;
    } catch {
      return refused('invalid_response');
    }
    if (typeof challenge !== 'string' || challenge.length > 200) return refused('invalid_response');
    const used = await store.consume({ flowId, challenge, purpose, now: this.#deps.clock.now() });
    if (!used.ok) return refused(used.reason);
    return { ok: true as const, value: { challenge, accountId: used.accountId, userVerification: used.userVerification, userHandle: used.userHandle } };
  }
}

function refused(reason: CeremonyRefusal): { ok: false; reason: CeremonyRefusal } {
  return { ok: false, reason };
}
