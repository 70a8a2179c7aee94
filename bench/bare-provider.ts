/**
 * A bare oidc-provider (the library's defaults, the same two signing keys kapu has) for the
 * discovery comparison in `npm run bench`. Run by bench/run.ts as its own process:
 *   PORT=… node bench/bare-provider.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type JWK } from 'oidc-provider';

const port = Number(process.env['PORT']);
const jwk = (alg: string, key: ReturnType<typeof generateKeyPairSync>['privateKey']) => ({ ...(key.export({ format: 'jwk' }) as JWK), alg, use: 'sig', kid: alg });
const keys = [
  jwk('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
  jwk('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
];
const provider = new Provider(`http://127.0.0.1:${port}`, { jwks: { keys }, cookies: { keys: ['bench-bare-provider-cookie-key-0123456789'] } });
provider.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
