/**
 * A bare oidc-provider, the protocol's floor in `npm run bench`: the library's defaults and
 * memory storage, the same two signing keys, scopes and claims kapu has, one static client, and
 * a trivial interaction (one request: the citizen is signed in, and whatever the request asks
 * is granted). A full sign-in through it is the least any OIDC provider built on the library
 * spends; its refresh grant and discovery the same. Run by bench/run.ts as its own process:
 *   PORT=… BARE_CLIENT_SECRET=… BARE_REDIRECT_URI=… node bench/bare-provider.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type JWK } from 'oidc-provider';

const port = Number(process.env['PORT']);
const jwk = (alg: string, key: ReturnType<typeof generateKeyPairSync>['privateKey']) => ({ ...(key.export({ format: 'jwk' }) as JWK), alg, use: 'sig', kid: alg });
const keys = [
  jwk('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
  jwk('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
];
const ACCOUNT = 'bench-citizen';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  jwks: { keys },
  cookies: { keys: ['bench-bare-provider-cookie-key-0123456789'] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
  clients: [
    {
      client_id: 'bench-rp',
      client_secret: process.env['BARE_CLIENT_SECRET'] ?? 'bench-rp-secret',
      redirect_uris: [process.env['BARE_REDIRECT_URI'] ?? 'https://rp.example.hu/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  rotateRefreshToken: () => true,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: 'bench', name: 'Bench Citizen', email: 'bench@example.hu', email_verified: true };
      },
    };
  },
});

// The trivial interaction: signed in, and every scope the request names granted, at once.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/interaction/')) return next();
  const { params } = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: params['client_id'] as string });
  grant.addOIDCScope(params['scope'] as string);
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: ACCOUNT, amr: ['pwd'] }, consent: { grantId } }, { mergeWithLastSubmission: false });
});

provider.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
