/**
 * Signing keys live in the database, sealed, so every replica signs with the same keys.
 * The first replica to start generates one ES256 and one RS256 key; the others load them.
 */
import { generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { SigningKeysRepository } from '../db/repositories/signing-keys.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

const generate = promisify(generateKeyPair);
export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

async function newPrivateJwk(alg: string): Promise<JWK> {
  const { privateKey } =
    alg === 'ES256'
      ? await generate('ec', { namedCurve: 'P-256' })
      : await generate('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' }) as JWK;
}

export async function loadSigningKeys(repo: SigningKeysRepository, box: SecretBox, clock: Clock): Promise<JWK[]> {
  await repo.ensure(
    [...SIGNING_ALGS],
    async (alg) => {
      const kid = randomUUID();
      const jwk = { ...(await newPrivateJwk(alg)), kid, alg, use: 'sig' };
      return { kid, sealed: box.seal(JSON.stringify(jwk), AAD.signingKey(kid)) };
    },
    clock.now(),
  );
  const rows = await repo.active();
  return rows.map((row) => JSON.parse(box.openText(row.private_jwk_sealed, AAD.signingKey(row.kid))) as JWK);
}
