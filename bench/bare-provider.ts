/**
 * A bare oidc-provider, the protocol's floor in `npm run bench`: the library's defaults and
 * memory storage, the same two signing keys, scopes and claims kapu has, one static client, and
 * a trivial interaction (one request: the citizen is signed in, and whatever the request asks
 * is granted), storage in plain maps (the library's own memory adapter is an LRU of 1000
 * entries, which a bench run outgrows: grants would vanish under the refresh chains). A full sign-in through it is the least any OIDC provider built on the library
 * spends; its refresh grant and discovery the same. Run by bench/run.ts as its own process:
 *   PORT=… BARE_CLIENT_SECRET=… BARE_REDIRECT_URI=… node bench/bare-provider.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type Adapter, type AdapterPayload, type JWK } from 'oidc-provider';

const port = Number(process.env['PORT']);
const jwk = (alg: string, key: ReturnType<typeof generateKeyPairSync>['privateKey']) => ({ ...(key.export({ format: 'jwk' }) as JWK), alg, use: 'sig', kid: alg });
const keys = [
  jwk('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
  jwk('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
];
const ACCOUNT = 'bench-citizen';

/** Storage in maps, the least an adapter can cost; expiry is not enforced (a run is short). */
const stores = new Map<string, Map<string, AdapterPayload>>();
const uids = new Map<string, string>();
class MapAdapter implements Adapter {
  readonly #rows: Map<string, AdapterPayload>;
  constructor(model: string) {
    this.#rows = stores.get(model) ?? new Map();
    stores.set(model, this.#rows);
  }
  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    this.#rows.set(id, payload);
    if (payload.uid) uids.set(payload.uid, id);
  }
  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#rows.get(id);
  }
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = uids.get(uid);
    return id === undefined ? undefined : this.#rows.get(id);
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(id: string): Promise<void> {
    const row = this.#rows.get(id);
    if (row) row.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> {
    this.#rows.delete(id);
  }
  async revokeByGrantId(grantId: string): Promise<void> {
    for (const rows of stores.values()) for (const [id, row] of rows) if (row.grantId === grantId) rows.delete(id);
  }
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  adapter: MapAdapter,
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
