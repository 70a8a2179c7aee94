/** `kapu client …`: relying parties (government services) registered with kapu. */
import {
  type ClientUpdate,
  MAX_SECRET_GRACE_SECONDS,
  registerClient,
  removeClient,
  rotateClientSecret,
  setClientMinAcr,
  updateClient,
} from '../admin/clients.ts';
import { CliFailure, UsageError, integer, parse, printable, url } from './args.ts';
import type { TokenLifetime } from '../oidc/client-metadata.ts';
import { pkcePolicyOf } from '../oidc/client-policy.ts';
import {
  LIFETIME_FLAGS,
  LIFETIME_OPTIONS,
  acrArgument,
  clientInput,
  clientName,
  lifetimes,
  logoFromFile,
  pkceArgument,
  subjectTypeArgument,
  uriOrNone,
} from './client-options.ts';
import { type Command, isoTime } from './context.ts';

interface StoredClient {
  client_id: string;
  metadata: Record<string, unknown>;
  created_at: Date;
  previous_secret_expires_at: Date | null;
  subject_type: string;
  sector: string | null;
  logo_sha256: string | null;
  logo_content_type: string | null;
  logo_size: number | null;
  logo_updated_at: Date | null;
}

/** A client as operators see it: explicit fields, never a secret. */
function described(c: StoredClient, now: Date) {
  const m = c.metadata;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  const texts = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const seconds = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    clientId: c.client_id,
    name: text(m['client_name']),
    /** The logo kapu's pages show (given with --logo-file), or null. */
    logo:
      c.logo_sha256 === null
        ? null
        : { contentType: c.logo_content_type, bytes: Number(c.logo_size), sha256: c.logo_sha256, updatedAt: c.logo_updated_at },
    /** Metadata only: kapu never fetches or shows it. */
    logoUri: text(m['logo_uri']),
    clientUri: text(m['client_uri']),
    redirectUris: texts(m['redirect_uris']),
    postLogoutRedirectUris: texts(m['post_logout_redirect_uris']),
    authMethod: text(m['token_endpoint_auth_method']),
    minAcr: text(m['min_acr']),
    consentRequired: m['consent_required'] === true,
    backchannelLogoutUri: text(m['backchannel_logout_uri']),
    /** optional: the RP may sign in without PKCE, with a nonce. */
    pkce: pkcePolicyOf(m),
    /** pairwise: the RP sees a `sub` derived for its sector, not the account id. */
    subjectType: c.subject_type,
    sector: c.sector,
    /** Metadata only: kapu never fetches it (its host became the sector). */
    sectorIdentifierUri: text(m['sector_identifier_uri']),
    jwksUri: text(m['jwks_uri']),
    accessTokenTtl: seconds(m['access_token_ttl']),
    idTokenTtl: seconds(m['id_token_ttl']),
    refreshTokenTtl: seconds(m['refresh_token_ttl']),
    previousSecretValidUntil: c.previous_secret_expires_at && c.previous_secret_expires_at > now ? c.previous_secret_expires_at : null,
    createdAt: c.created_at,
  };
}

const add: Command = {
  name: 'client add',
  synopsis:
    '--id ID --redirect-uri URI [--redirect-uri URI …] [--post-logout-uri URI …]\n' +
    '        [--auth-method client_secret_basic|client_secret_post|private_key_jwt] [--name NAME]\n' +
    '        [--jwks-uri URL | --jwks-file PATH] [--min-acr low|substantial|ACR] [--consent-required]\n' +
    '        [--backchannel-logout-uri URI] [--client-uri URI] [--logo-file PNG|JPEG|WEBP] [--logo-uri URI]\n' +
    '        [--pkce required|optional]   (optional: a confidential RP without PKCE, relying on the nonce)\n' +
    '        [--subject-type public|pairwise [--sector-identifier-uri URI]]   (the URI when the redirect URIs have several hosts)',
  summary: 'register a relying party; prints its secret once',
  async run(cli, args) {
    const input = clientInput(cli, this.name, args);
    await cli.withProvider(async (deps, provider) => {
      const { clientId, clientSecret } = await registerClient(deps, provider, input);
      cli.result({ clientId, clientSecret }, () => {
        cli.out(`client_id:     ${clientId}`);
        if (clientSecret) {
          cli.out(`client_secret: ${clientSecret}`);
          cli.out('The secret is shown only this once: kapu stores it encrypted and cannot show it again. Hand it to the service over a safe channel.');
        }
        if (input.logo) cli.out(`The logo (${input.logo.length} bytes) is shown on the sign-in pages for this service.`);
      });
    });
  },
};

const list: Command = {
  name: 'client list',
  synopsis: '[--json]',
  summary: 'list relying parties (never their secrets)',
  async run(cli, args) {
    parse(this.name, args, {});
    await cli.withDeps(async (deps) => {
      const now = deps.clock.now();
      const clients = (await deps.repos.clients.list()).map((c) => described(c, now));
      cli.result(clients, () => {
        if (clients.length === 0) return cli.out('no clients');
        cli.table(
          ['ID', 'NAME', 'AUTH METHOD', 'MIN ACR', 'CONSENT', 'CREATED', 'REDIRECT URIS'],
          clients.map((c) => [
            c.clientId,
            c.name ?? '-',
            c.authMethod ?? '-',
            c.minAcr ?? '-',
            c.consentRequired ? 'asked' : 'no',
            isoTime(c.createdAt),
            c.redirectUris.join(' '),
          ]),
        );
      });
    });
  },
};

const show: Command = {
  name: 'client show',
  synopsis: 'ID [--json]',
  summary: 'show one relying party (never its secret)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['ID']);
    const clientId = positionals[0]!;
    await cli.withDeps(async (deps) => {
      const row = await deps.repos.clients.find(clientId);
      if (!row) throw new CliFailure(`no client "${printable(clientId)}"`);
      const client = described(row, deps.clock.now());
      cli.result(client, () => {
        for (const [key, value] of Object.entries(client)) {
          const shown =
            key === 'logo' && client.logo
              ? `${client.logo.contentType}, ${client.logo.bytes} bytes, sha256 ${client.logo.sha256}`
              : value instanceof Date
                ? isoTime(value)
                : Array.isArray(value)
                  ? value.join(' ') || '-'
                  : (value ?? '-');
          cli.out(printable(`${key.padEnd(26)}${String(shown)}`));
        }
      });
    });
  },
};

const update: Command = {
  name: 'client update',
  synopsis:
    'ID [--name NAME|none] [--redirect-uri URI …] [--post-logout-uri URI …|--no-post-logout-uris] [--logo-uri URI|none]\n' +
    '        [--logo-file PNG|JPEG|WEBP|--no-logo] [--client-uri URI|none] [--min-acr low|substantial|ACR|none] [--consent-required|--no-consent-required]\n' +
    '        [--backchannel-logout-uri URI|none] [--access-token-ttl S|default] [--id-token-ttl S|default] [--refresh-token-ttl S|default]\n' +
    '        [--pkce required|optional] [--subject-type public|pairwise] [--sector-identifier-uri URI]',
  summary: 'change a relying party (given lists replace the stored ones); every replica sees it at once',
  async run(cli, args) {
    const { values, positionals } = parse(
      this.name,
      args,
      {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-uri': { type: 'string', multiple: true },
        'no-post-logout-uris': { type: 'boolean' },
        'logo-uri': { type: 'string' },
        'logo-file': { type: 'string' },
        'no-logo': { type: 'boolean' },
        'client-uri': { type: 'string' },
        'min-acr': { type: 'string' },
        'consent-required': { type: 'boolean' },
        'no-consent-required': { type: 'boolean' },
        'backchannel-logout-uri': { type: 'string' },
        pkce: { type: 'string' },
        'subject-type': { type: 'string' },
        'sector-identifier-uri': { type: 'string' },
        ...LIFETIME_OPTIONS,
      },
      ['ID'],
    );
    const command = this.name;
    const clientId = positionals[0]!;
    if (values['consent-required'] && values['no-consent-required']) throw new UsageError(`${command}: give --consent-required or --no-consent-required, not both`);
    if (values['post-logout-uri'] && values['no-post-logout-uris']) throw new UsageError(`${command}: give --post-logout-uri or --no-post-logout-uris, not both`);
    if (values['logo-file'] !== undefined && values['no-logo']) throw new UsageError(`${command}: give --logo-file or --no-logo, not both`);
    const change: ClientUpdate = {};
    if (values.name !== undefined) change.clientName = values.name === 'none' ? null : clientName(command, values.name);
    if (values['redirect-uri']) change.redirectUris = values['redirect-uri'].map((u) => url(command, u, '--redirect-uri'));
    if (values['post-logout-uri']) change.postLogoutRedirectUris = values['post-logout-uri'].map((u) => url(command, u, '--post-logout-uri'));
    if (values['no-post-logout-uris']) change.postLogoutRedirectUris = [];
    const logo = uriOrNone(command, values['logo-uri'], '--logo-uri');
    if (logo !== undefined) change.logoUri = logo;
    if (values['logo-file'] !== undefined) change.logo = logoFromFile(command, values['logo-file']);
    if (values['no-logo']) change.logo = null;
    const home = uriOrNone(command, values['client-uri'], '--client-uri');
    if (home !== undefined) change.clientUri = home;
    const logout = uriOrNone(command, values['backchannel-logout-uri'], '--backchannel-logout-uri');
    if (logout !== undefined) change.backchannelLogoutUri = logout;
    if (values['min-acr'] !== undefined) change.minAcr = values['min-acr'] === 'none' ? null : acrArgument(command, values['min-acr'], cli.config);
    if (values['consent-required']) change.consentRequired = true;
    if (values['no-consent-required']) change.consentRequired = false;
    if (values.pkce !== undefined) change.pkce = pkceArgument(command, values.pkce);
    if (values['subject-type'] !== undefined) change.subjectType = subjectTypeArgument(command, values['subject-type']);
    if (values['sector-identifier-uri'] !== undefined) change.sectorIdentifierUri = url(command, values['sector-identifier-uri'], '--sector-identifier-uri');
    const ttl: Partial<Record<TokenLifetime, number | null>> = {};
    for (const [flag, key] of Object.entries(LIFETIME_FLAGS) as Array<[keyof typeof LIFETIME_OPTIONS, TokenLifetime]>) {
      const value = values[flag];
      if (value === 'default') ttl[key] = null;
      else if (value !== undefined) ttl[key] = lifetimes(command, { [flag]: value })[key]!;
    }
    if (Object.keys(ttl).length > 0) change.lifetimes = ttl;
    if (Object.keys(change).length === 0) throw new UsageError(`${command}: nothing to change: give at least one option`);
    await cli.withProvider(async (deps, provider) => {
      const changed = await updateClient(deps, provider, clientId, change);
      cli.result({ clientId, changed }, () => {
        cli.out(changed.length === 0 ? `client ${printable(clientId)}: nothing changed` : `client ${printable(clientId)} updated: ${changed.join(', ')}`);
        if (changed.includes('subject_type') || changed.includes('sector')) {
          cli.out('From now on this service sees another sub for every citizen: it must not match its accounts on the old values.');
        }
      });
    });
  },
};

const rotateSecret: Command = {
  name: 'client rotate-secret',
  synopsis: 'ID [--grace-hours N]   (default 24; 0 ends the old secret at once)',
  summary: 'give a relying party a new secret (printed once); the old one works for the grace period',
  async run(cli, args) {
    const { values, positionals } = parse(this.name, args, { 'grace-hours': { type: 'string' } }, ['ID']);
    const clientId = positionals[0]!;
    const graceHours = integer(this.name, values['grace-hours'], '--grace-hours', 0, MAX_SECRET_GRACE_SECONDS / 3600, 24);
    cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const { clientSecret, previousValidUntil } = await rotateClientSecret(deps, clientId, graceHours * 3600);
      cli.result({ clientId, clientSecret, previousSecretValidUntil: previousValidUntil }, () => {
        cli.out(`client_id:     ${clientId}`);
        cli.out(`client_secret: ${clientSecret}`);
        cli.out('The new secret is shown only this once. Hand it to the service over a safe channel.');
        cli.out(previousValidUntil ? `The old secret keeps working until ${isoTime(previousValidUntil)}.` : 'The old secret no longer works.');
      });
    });
  },
};

const remove: Command = {
  name: 'client remove',
  synopsis: 'ID',
  summary: 'remove a relying party',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['ID']);
    const clientId = positionals[0]!;
    await cli.withDeps(async (deps) => {
      await removeClient(deps, clientId);
      cli.result({ clientId, removed: true }, () => cli.out(`client ${printable(clientId)} removed`));
    });
  },
};

const setMinAcr: Command = {
  name: 'client set-min-acr',
  synopsis: 'ID low|substantial|ACR|none',
  summary: "set or clear the lowest acr a relying party accepts",
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['ID', 'ACR']);
    const [clientId, value] = positionals as [string, string];
    const minAcr = value === 'none' ? null : acrArgument(this.name, value, cli.config);
    await cli.withProvider(async (deps, provider) => {
      await setClientMinAcr(deps, provider, clientId, minAcr);
      cli.result({ clientId, minAcr }, () =>
        cli.out(minAcr ? `client ${printable(clientId)}: min acr ${minAcr}` : `client ${printable(clientId)}: no min acr`),
      );
    });
  },
};

export const clientCommands: Command[] = [add, show, list, update, rotateSecret, setMinAcr, remove];
