/**
 * The DÁP device protocol's cryptography, in one place for kapu, its tests and any app:
 * the exact bytes a device signs, and the check of an ES256 signature (ECDSA P-256 with
 * SHA-256, the signature as the 64 raw bytes r‖s that WebCrypto makes) against the device's
 * registered public key. The device builds the message from what it knows and shows (the kapu
 * it enrolled with, the number the citizen tapped); kapu rebuilds it from what it stored, so a
 * signature made for another challenge, sign-in, number or kapu never verifies.
 */
import { type KeyObject, createPublicKey, verify } from 'node:crypto';

export const PROTOCOL = 'kapu-dap-v1';

/** A P-256 public key as a JWK: the only key shape kapu accepts. */
export interface DeviceJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** The public JWK a device sent, reduced to its four members; undefined when it is not one. */
export function parseDeviceJwk(value: unknown): DeviceJwk | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const jwk = value as Record<string, unknown>;
  // A private key ('d') is refused outright: it must never leave the device.
  if (jwk['kty'] !== 'EC' || jwk['crv'] !== 'P-256' || 'd' in jwk) return undefined;
  const { x, y } = jwk;
  if (typeof x !== 'string' || typeof y !== 'string' || !B64URL_32.test(x) || !B64URL_32.test(y)) return undefined;
  const key: DeviceJwk = { kty: 'EC', crv: 'P-256', x, y };
  try {
    // Also checks that the point is on the curve.
    createPublicKey({ key: { ...key }, format: 'jwk' });
  } catch {
    return undefined;
  }
  return key;
}

/** What a device signs when it enrolls: proof that it holds the key it registers. */
export function enrollMessage(origin: string, token: string): Buffer {
  return Buffer.from([PROTOCOL, 'enroll', origin, token].join('\n'), 'utf8');
}

/** What a device signs to approve or refuse a challenge. */
export function decisionMessage(decision: 'approve' | 'refuse', c: { origin: string; challengeId: string; nonce: string; interaction: string; number: string }): Buffer {
  return Buffer.from([PROTOCOL, decision, c.origin, c.challengeId, c.nonce, c.interaction, c.number].join('\n'), 'utf8');
}

/** Does `signature` (base64url of r‖s, 64 bytes) sign exactly `message` under `jwk`? */
export function verifySignature(jwk: DeviceJwk | string, message: Buffer, signature: unknown): boolean {
  if (typeof signature !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { ...(typeof jwk === 'string' ? (JSON.parse(jwk) as DeviceJwk) : jwk) }, format: 'jwk' });
  } catch {
    return false;
  }
  return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}
