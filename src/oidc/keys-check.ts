/**
 * Before anything is decrypted: do the configured encryption keys (ENCRYPTION_KEYS, or outside
 * production the keys generated into DATA_DIR/dev-keys.json) open what this database holds?
 * A DATA_DIR or database paired with another folder's keys fails here with an error that says
 * exactly that, instead of a decryption error from deep inside the start.
 */
import type { Deps } from '../deps.ts';
import { AAD } from '../security/secret-box.ts';

export class KeysDoNotOpenDatabase extends Error {
  constructor(detail: string) {
    super(
      `the encryption keys do not open what the database holds (${detail}): ` +
        'start kapu with the ENCRYPTION_KEYS (or, in development, the DATA_DIR with its dev-keys.json) this database was created with',
    );
    this.name = 'KeysDoNotOpenDatabase';
  }
}

export async function checkKeysOpenDatabase(deps: Pick<Deps, 'repos' | 'box'>): Promise<void> {
  const [sample] = await deps.repos.signingKeys.active();
  if (!sample) return; // a new database: nothing sealed yet
  const keyId = sample.private_jwk_sealed.split('.')[1] ?? '?';
  try {
    deps.box.open(sample.private_jwk_sealed, AAD.signingKey(sample.kid));
  } catch {
    throw new KeysDoNotOpenDatabase(`its signing keys are sealed with key "${keyId}", which the configured keys do not open`);
  }
}
