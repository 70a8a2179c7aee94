/**
 * oidc-provider, configured. The library owns the protocol; kapu fills its hooks: storage
 * (adapter), accounts, keys, the interaction policy (acr), consent for first-party clients,
 * and its own pages for errors and logout.
 */
import Provider, { type Configuration, type KoaContextWithOIDC, errors, interactionPolicy } from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { accountOfRequest, createAdapterFactory, providerUnitOfWork } from './adapter.ts';
import { isFirstParty } from './client-directory.ts';
import { AUTH_METHODS, TOKEN_LIFETIMES, type TokenLifetime } from './client-metadata.ts';
import { PKCE_METADATA, pkcePolicyProblem, pkceRequired } from './client-policy.ts';
import { guardProviderFaults } from './faults.ts';
import { LONGEST_SIGNED_TOKEN_SECONDS, SigningKeyRing } from './keys.ts';
import { PairwiseSubjects, SUBJECT_TYPES } from './pairwise.ts';
import { DEVELOPERS_PATH } from './developers.ts';
import { renderProviderError, renderLogout, renderLogoutSuccess } from './pages.ts';

export const SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** Lifetimes, in seconds. Short-lived where a leak would hurt, long enough to be usable. */
const TTL = {
  AccessToken: 10 * 60,
  AuthorizationCode: 60,
  // Signing keys stay published this long after a rotation (src/oidc/keys.ts).
  IdToken: LONGEST_SIGNED_TOKEN_SECONDS,
  RefreshToken: 14 * 24 * 60 * 60,
  Interaction: 60 * 60,
  // Session: see sessionTtl (idle timeout and absolute lifetime from config).
  Grant: 14 * 24 * 60 * 60,
};
/**
 * The sign-in session at kapu (single sign-on): saved again on every request that uses it, each
 * time for the idle timeout, but never past its absolute lifetime counted from the sign-in.
 * Its row's expiry is kept by the adapter on kapu's clock, so every replica agrees at once;
 * the start is the provider's `loginTs` (real time, which kapu's clock is in production).
 */
function sessionTtl(clock: Deps['clock'], times: Deps['config']['session']) {
  return (_ctx: KoaContextWithOIDC, session: { loginTs?: number }) => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const left = (session.loginTs ?? now) + times.lifetimeSeconds - now;
    return Math.max(1, Math.min(times.idleSeconds, left));
  };
}

/** A lifetime the RP was registered with (`client update --access-token-ttl …`), if any. */
function clientLifetime(client: unknown, key: TokenLifetime): number | undefined {
  const value = (client as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : undefined;
}

export async function buildProvider(deps: Deps): Promise<Provider> {
  const { config, repos, box, clock, acr } = deps;
  const addressProvers = deps.factors.all().filter((f) => f.provesAddress).map((f) => f.id);
  // The signing keys, kept in step with rotations on every replica (src/oidc/keys.ts).
  const keyRing = new SigningKeyRing({ uow: deps.uow, box, clock, changes: deps.database.changes, log: deps.log });
  const jwks = await keyRing.jwks();
  const pairwise = await PairwiseSubjects.load(deps);

  const policy = interactionPolicy.base();
  // A session signed in at a lower level than this request needs must sign in again.
  policy.get('login')!.checks.add(
    // With prompt=none the RP gets login_required, OIDC's error for "the citizen must sign in".
    new interactionPolicy.Check('acr_insufficient', 'a higher authentication level is required', 'login_required', (ctx) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || !oidc.params) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const need = acr.required(oidc.params['acr_values'] as string | undefined, oidc.client?.['min_acr' as never]);
      const have = acr.levelOf(oidc.session.acr);
      return acr.satisfies(have, need) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );

  const configuration: Configuration = {
    adapter: createAdapterFactory({ payloads: repos.payloads, clients: deps.clients, clock }),
    jwks,
    cookies: {
      keys: config.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    acrValues: acr.values,
    scopes: SCOPES,
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Per client (src/oidc/pairwise.ts): the account id, or a `sub` derived for the client's
    // sector, in ID tokens, userinfo, introspection and logout tokens alike.
    subjectTypes: [...SUBJECT_TYPES],
    async pairwiseIdentifier(_ctx, accountId, client) {
      const sector = (await deps.clients.find(client.clientId))?.sector;
      if (!sector) throw new Error(`client ${client.clientId} is pairwise but has no sector`);
      return pairwise.subject(accountId, sector);
    },
    // kapu never fetches a sector identifier URI: the sector is stored with the client.
    sectorIdentifierUriValidate: () => false,
    // Discovery advertises exactly the methods a client can be registered with (src/admin).
    clientAuthMethods: [...AUTH_METHODS],
    responseTypes: ['code'],
    // Required, unless the operator registered a confidential RP with `--pkce optional`.
    pkce: { required: pkceRequired },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      // min_acr: the lowest acr this RP accepts; consent_required: ask the citizen (default: no);
      // *_token_ttl: this RP's token lifetimes, within TOKEN_LIFETIMES' bounds; pkce: optional
      // for a confidential client registered so (src/oidc/client-policy.ts).
      properties: ['min_acr', 'consent_required', PKCE_METADATA, ...Object.keys(TOKEN_LIFETIMES)],
      validator(_ctx, key, value, metadata) {
        const bounds = TOKEN_LIFETIMES[key as TokenLifetime];
        if (bounds && value !== undefined && (!Number.isInteger(value) || (value as number) < bounds.min || (value as number) > bounds.max)) {
          throw new Error(`${key} must be a whole number of seconds from ${bounds.min} to ${bounds.max}`);
        }
        if (key === 'min_acr' && value !== undefined && !acr.levelOf(value as string)) {
          throw new Error(`min_acr must be one of ${acr.values.join(', ')}`);
        }
        if (key === 'consent_required' && value !== undefined && typeof value !== 'boolean') {
          throw new Error('consent_required must be a boolean');
        }
        const pkceProblem = key === PKCE_METADATA ? pkcePolicyProblem(value, metadata.token_endpoint_auth_method) : null;
        if (pkceProblem) throw new Error(pkceProblem);
      },
    },
    features: {
      devInteractions: { enabled: false },
      // An RP may revoke only its own tokens; another RP's token is refused, not silently ignored.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      // An RP may introspect only the tokens issued to it (the library's default lets any
      // authenticated client read any token's subject and scope).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      rpInitiatedLogout: { enabled: true, logoutSource: renderLogout(deps), postLogoutSuccessSource: renderLogoutSuccess(deps) },
      backchannelLogout: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: { enabled: false },
    },
    ttl: {
      ...TTL,
      Session: sessionTtl(clock, config.session),
      AccessToken: (_ctx, _token, client) => clientLifetime(client, 'access_token_ttl') ?? TTL.AccessToken,
      IdToken: (_ctx, _token, client) => clientLifetime(client, 'id_token_ttl') ?? TTL.IdToken,
      RefreshToken: (_ctx, _token, client) => clientLifetime(client, 'refresh_token_ttl') ?? TTL.RefreshToken,
    },
    rotateRefreshToken: () => true,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy,
    },
    async findAccount(_ctx, sub) {
      // Usually the token or interaction this request looked up brought the account along.
      const account = accountOfRequest(sub) ?? (await repos.accounts.findWithFactorKinds(sub));
      if (!account) return undefined;
      const kinds = account.factor_kinds;
      return {
        accountId: account.id,
        async claims() {
          return {
            sub: account.id,
            preferred_username: account.username,
            name: account.name,
            email: account.email,
            // The address is verified once the account has a factor that proves it receives kapu's codes.
            email_verified: addressProvers.some((id) => kinds.includes(id)),
          };
        },
      };
    },
    // Registered government RPs are first-party: their grant is made without a consent screen.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(oidc.client!.clientId);
      if (grantId) {
        const grant = await oidc.provider.Grant.find(grantId);
        if (grant) return grant;
      }
      if (!isFirstParty(oidc.client!) || !oidc.session!.accountId) return undefined;
      const grant = new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId });
      grant.addOIDCScope([...(oidc.requestParamScopes as Set<string>)].join(' '));
      await grant.save();
      return grant;
    },
    renderError: renderProviderError(deps),
    // Hide the library's name and version from clients' error pages and responses.
    discovery: { service_documentation: `${config.issuer}${DEVELOPERS_PATH}`, ui_locales_supported: ['hu', 'en'] },
    clockTolerance: 5,
  };

  const provider = new Provider(config.issuer, configuration);
  // First, so that it is the outermost: whatever fails below is answered and logged there.
  guardProviderFaults(provider, deps);
  keyRing.install(provider);
  // After `client rotate-secret` the old secret works until its grace period ends, and the new
  // one at once, even before this replica's cache has heard of the rotation.
  const compareClientSecret = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = async function (this: InstanceType<Provider['Client']>, actual: string) {
    if (await compareClientSecret.call(this, actual)) return true;
    return deps.clients.secretMatchesStored(this.clientId, actual, clock.now());
  };
  // Discovery says backchannel_logout_session_supported, which promises a `sid` in every ID
  // token (Back-Channel Logout 1.0 §2.1); the library adds it only for clients registered with
  // a back-channel logout URI. It names the session at kapu, nothing about the citizen.
  provider.Client.prototype.includeSid = () => true;
  provider.use(providerUnitOfWork(repos.payloads));
  provider.proxy = config.trustProxy;
  provider.maxIpsCount = config.proxyHops;
  return provider;
}

