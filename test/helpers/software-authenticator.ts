/**
 * A WebAuthn authenticator in software, for the ceremony's rules at unit level: real P-256 keys
 * (node:crypto), real CBOR (the CBOR encoder @simplewebauthn/server exports), real signatures, and
 * every field a test may want to get wrong on purpose (the origin the browser reports, the RP ID
 * it hashes, the user verification flag, the counter).
 *
 * It answers the options kapu makes as a browser would pass them on: `create` gives what
 * `PublicKeyCredential.toJSON()` gives after `navigator.credentials.create`, `get` what it gives
 * after `navigator.credentials.get` (attestation `none`, as kapu asks).
 */
import { type KeyObject, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface Ceremony {
  /** The origin the browser puts in clientDataJSON (a phishing page's, say). */
  origin?: string;
  /** The RP ID whose hash the authenticator signs. */
  rpId?: string;
  /** Whether it verified the user (PIN, fingerprint). */
  userVerified?: boolean;
  /** The signature counter to report (default: one more than the last). */
  counter?: number;
}

interface Held {
  id: Uint8Array<ArrayBuffer>;
  key: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

export class SoftwareAuthenticator {
  readonly #origin: string;
  /** Synced (backup eligible and backed up), like a phone's or a password manager's passkey. */
  readonly #synced: boolean;
  readonly credentials: Held[] = [];

  constructor(origin: string, options: { synced?: boolean } = {}) {
    this.#origin = origin;
    this.#synced = options.synced ?? false;
  }

  create(options: PublicKeyCredentialCreationOptionsJSON, c: Ceremony = {}): RegistrationResponseJSON {
    const rpId = c.rpId ?? options.rp.id ?? new URL(this.#origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, isoBase64URL.toBuffer(jwk.x ?? '')],
        [-3, isoBase64URL.toBuffer(jwk.y ?? '')],
      ]),
    );
    const id = new Uint8Array(randomBytes(32));
    const counter = c.counter ?? 0;
    const attested = concat(new Uint8Array(16), u16(id.length), id, cose);
    const authData = concat(rpIdHash(rpId), new Uint8Array([this.#flags(c) | FLAG_AT]), u32(counter), attested);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    this.credentials.push({ id, key: privateKey, rpId, userHandle: options.user.id, counter });
    return {
      ...envelope(id),
      response: {
        clientDataJSON: this.#clientData('webauthn.create', options.challenge, c),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** Answers with the credential the options allow, or (none listed) the first one held. */
  get(options: PublicKeyCredentialRequestOptionsJSON, c: Ceremony = {}): AuthenticationResponseJSON {
    const allowed = options.allowCredentials?.map((d) => d.id) ?? [];
    const held = this.credentials.find((h) => allowed.length === 0 || allowed.includes(isoBase64URL.fromBuffer(h.id)));
    if (!held) throw new Error('the authenticator holds no credential these options allow');
    held.counter = c.counter ?? held.counter + 1;
    const authData = concat(rpIdHash(c.rpId ?? held.rpId), new Uint8Array([this.#flags(c)]), u32(held.counter));
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, c);
    const signed = concat(authData, createHash('sha256').update(isoBase64URL.toBuffer(clientDataJSON)).digest());
    const signature = sign('sha256', signed, held.key);
    return {
      ...envelope(held.id),
      response: {
        clientDataJSON,
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(new Uint8Array(signature)),
        userHandle: held.userHandle,
      },
    };
  }

  #flags(c: Ceremony): number {
    return FLAG_UP | ((c.userVerified ?? true) ? FLAG_UV : 0) | (this.#synced ? FLAG_BE | FLAG_BS : 0);
  }

  #clientData(type: string, challenge: string, c: Ceremony): string {
    return isoBase64URL.fromUTF8String(JSON.stringify({ type, challenge, origin: c.origin ?? this.#origin, crossOrigin: false }));
  }
}

/** What a browser's answer says around its response: the credential's id, as a platform authenticator's. */
function envelope(id: Uint8Array<ArrayBuffer>) {
  const credentialId = isoBase64URL.fromBuffer(id);
  return { id: credentialId, rawId: credentialId, type: 'public-key' as const, clientExtensionResults: {}, authenticatorAttachment: 'platform' as const };
}

function rpIdHash(rpId: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(rpId).digest());
}

function u16(n: number): Uint8Array {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
