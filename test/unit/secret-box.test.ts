/**
 * Secrets at rest (TOTP secrets, client secrets, signing keys, queued mail): sealed with the
 * newest ENCRYPTION_KEYS key, opened with any of them, bound to their row.
 */
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/security/secret-box.ts';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('sealed values', () => {
  const old = key('old');
  const fresh = key('new');

  test('open only with their own row (aad): a value copied to another row does not open', () => {
    const box = new SecretBox([fresh]);
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'factor:anna:totp');
    expect(box.openText(sealed, 'factor:anna:totp')).toBe('JBSWY3DPEHPK3PXP');
    expect(() => box.open(sealed, 'factor:bela:totp')).toThrow();
  });

  test('a changed byte, an unknown key id or a strange format never opens', () => {
    const box = new SecretBox([fresh]);
    const sealed = box.seal('titok', 'aad');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    expect(() => box.open([...parts.slice(0, 3), body.toString('base64url')].join('.'), 'aad')).toThrow();
    expect(() => box.open(['v1', 'nincs', parts[2], parts[3]].join('.'), 'aad')).toThrow(/unknown format or key/);
    expect(() => box.open('titok', 'aad')).toThrow(/unknown format or key/);
  });

  test('after a key rotation the new key seals, the old one still opens, and old values are marked for resealing', () => {
    const before = new SecretBox([old]).seal('titok', 'aad');
    const rotated = new SecretBox([fresh, old]);
    expect(rotated.openText(before, 'aad')).toBe('titok');
    expect(rotated.isStale(before)).toBe(true);
    const after = rotated.seal('titok', 'aad');
    expect(after.split('.')[1]).toBe('new');
    expect(rotated.isStale(after)).toBe(false);
  });

  test('the same secret sealed twice looks different (a random nonce each time)', () => {
    const box = new SecretBox([fresh]);
    expect(box.seal('titok', 'aad')).not.toBe(box.seal('titok', 'aad'));
  });
});

describe('keyed hashes of values kapu only compares (codes, CSRF tokens)', () => {
  test('depend on the purpose and the key; during a rotation every key is tried, current first', () => {
    const old = key('old');
    const fresh = key('new');
    const before = new SecretBox([old]);
    const rotated = new SecretBox([fresh, old]);
    expect(before.mac('code', '123456')).not.toBe(before.mac('csrf', '123456'));
    expect(rotated.mac('code', '123456')).not.toBe(before.mac('code', '123456'));
    expect(rotated.macs('code', '123456')).toEqual([rotated.mac('code', '123456'), before.mac('code', '123456')]);
  });
});
