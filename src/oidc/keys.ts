/**
 * Signing keys live in the database, sealed, so every replica signs with the same keys.
 * The first replica to start generates one ES256 and one RS256 key; the others load them.
 */
import { generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
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

export async function loadSigningKeys(uow: UnitOfWork<Repos>, box: SecretBox, clock: Clock): Promise<JWK[]> {
  const rows = await uow.transaction(async (r) => {
    await r.signingKeys.lock();
    const present = await r.signingKeys.active();
    for (const alg of SIGNING_ALGS) {
      if (present.some((k) => k.alg === alg)) continue;
      const kid = randomUUID();
      const jwk = { ...(await newPrivateJwk(alg)), kid, alg, use: 'sig' };
      await r.signingKeys.add({ kid, alg, sealed: box.seal(JSON.stringify(jwk), AAD.signingKey(kid)), now: clock.now() });
    }
    return r.signingKeys.active();
  });
  return rows.map((row) => JSON.parse(box.openText(row.private_jwk_sealed, AAD.signingKey(row.kid))) as JWK);
}
