/**
 * Encryption at rest for secrets kapu must read back (TOTP secrets, client secrets, private
 * signing keys, queued mail): AES-256-GCM with a random 96-bit nonce.
 *
 * Sealed form: `v1.<keyId>.<nonce>.<ciphertext+tag>` (base64url parts). The key id lets a key be
 * rotated: the first configured key seals, every configured key opens.
 * `aad` binds a ciphertext to its row (e.g. the account id), so a sealed value copied to
 * another row does not open.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The associated data each sealed column is bound to, in one place: the code that seals a
 * value and the code that opens (or re-seals) it must agree exactly.
 */
export const AAD = {
  clientSecret: (clientId: string) => `client:${clientId}`,
  signingKey: (kid: string) => `signing_key:${kid}`,
  factorSecret: (accountId: string, kind: string) => `factor:${accountId}:${kind}`,
  /** A factor's secret while its enrollment waits for confirmation. */
  enrollmentSecret: (enrollmentId: string) => `enrollment:${enrollmentId}`,
  outbox: 'mail_outbox',
  /** The installation's key for pairwise `sub` values (src/oidc/pairwise.ts). */
  pairwiseKey: 'pairwise_key',
} as const;

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #current: EncryptionKey;
  /** HKDF-derived MAC keys by key and purpose: derived once, used on every request. */
  readonly #macKeys = new Map<Buffer, Map<string, Buffer>>();

  constructor(keys: EncryptionKey[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.#current = keys[0]!;
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.#current.id;
  }

  seal(plaintext: string | Buffer, aad: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, nonce);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return ['v1', this.#current.id, nonce.toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string, aad: string): Buffer {
    const [version, keyId, nonce, body] = sealed.split('.');
    const key = keyId === undefined ? undefined : this.#keys.get(keyId);
    if (version !== 'v1' || !key || !nonce || !body) throw new Error('sealed value has an unknown format or key');
    const raw = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]);
  }

  openText(sealed: string, aad: string): string {
    return this.open(sealed, aad).toString('utf8');
  }

  /** True when the value was sealed with an older key and should be sealed again. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.#current.id;
  }

  /**
   * A keyed hash (HMAC-SHA-256) for values kapu only ever compares, such as one-time codes and
   * CSRF tokens, under a key derived (HKDF) from the current encryption key.
   */
  mac(purpose: string, value: string): string {
    return this.#macWith(this.#current.key, purpose, value);
  }

  /**
   * The value's MAC under every configured key, current first: what to accept when checking,
   * so a replica that already has a new key and one that does not yet agree during a rolling
   * key rotation.
   */
  macs(purpose: string, value: string): string[] {
    return [this.#current.key, ...[...this.#keys.values()].filter((k) => k !== this.#current.key)].map((k) => this.#macWith(k, purpose, value));
  }

  #macWith(key: Buffer, purpose: string, value: string): string {
    let byPurpose = this.#macKeys.get(key);
    if (!byPurpose) this.#macKeys.set(key, (byPurpose = new Map()));
    let macKey = byPurpose.get(purpose);
    if (!macKey) byPurpose.set(purpose, (macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `kapu mac ${purpose}`, 32))));
    return createHmac('sha256', macKey).update(value).digest('base64url');
  }
}
