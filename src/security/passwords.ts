/**
 * Password hashing with argon2id. An unknown username is checked against a dummy hash made
 * with the same parameters, so it costs the same time as a wrong password.
 */
import argon2 from 'argon2';

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export type PasswordCheck = { ok: false } | { ok: true; rehash: string | null };

export class PasswordHasher {
  readonly #params: PasswordParams;
  #dummy: Promise<string> | undefined;

  constructor(params: PasswordParams) {
    this.#params = params;
  }

  /**
   * Passwords are NFC-normalized first (NIST SP 800-63B): "ő" typed on one system and another
   * may arrive as different code points, and must still match.
   */
  hash(password: string): Promise<string> {
    return argon2.hash(password.normalize('NFC'), { type: argon2.argon2id, ...this.#params });
  }

  /** Verifies; when the stored hash used other parameters, returns a fresh hash to store. */
  async verify(storedHash: string | undefined, password: string): Promise<PasswordCheck> {
    if (storedHash === undefined) {
      this.#dummy ??= this.hash('kapu dummy password for timing equality');
      await argon2.verify(await this.#dummy, password.normalize('NFC')).catch(() => false);
      return { ok: false };
    }
    const ok = await argon2.verify(storedHash, password.normalize('NFC')).catch(() => false);
    if (!ok) return { ok: false };
    const rehash = argon2.needsRehash(storedHash, { ...this.#params }) ? await this.hash(password) : null;
    return { ok: true, rehash };
  }
}

/** Input bounds for a password form field: long passphrases yes, megabytes no. */
export const PASSWORD_MAX_LENGTH = 1024;
