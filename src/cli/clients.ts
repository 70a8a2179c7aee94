/** `kapu client …`: relying parties (government services) registered with kapu. */
import { readFileSync } from 'node:fs';
import { AUTH_METHODS, type NewClientInput, registerClient, removeClient, setClientMinAcr } from '../admin/clients.ts';
import type { Config } from '../config/index.ts';
import { UsageError, parse, printable, required, url } from './args.ts';
import { type Cli, type Command, isoTime } from './context.ts';

type AuthMethod = (typeof AUTH_METHODS)[number];

/** `low` / `substantial` name the configured acr values; a full URI must be one of them. */
function acrArgument(command: string, value: string, config: Config): string {
  const shorthands: Record<string, string> = { low: config.acr.passwordOnly, substantial: config.acr.twoFactor };
  const acr = shorthands[value] ?? value;
  if (acr !== config.acr.passwordOnly && acr !== config.acr.twoFactor) {
    throw new UsageError(`${command}: acr must be low, substantial, ${config.acr.passwordOnly} or ${config.acr.twoFactor}`);
  }
  return acr;
}

function jwksFromFile(command: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${command}: cannot read --jwks-file: ${(err as NodeJS.ErrnoException).code ?? 'error'} ${printable(path)}`);
  }
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch {
    throw new UsageError(`${command}: --jwks-file is not JSON`);
  }
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new UsageError(`${command}: --jwks-file must hold a JWK set: {"keys": [...]}`);
  if (keys.some((k) => typeof k !== 'object' || k === null || 'd' in k)) {
    throw new UsageError(`${command}: --jwks-file must hold public keys only (a key has a private part "d")`);
  }
  return jwks;
}

function clientInput(cli: Cli, command: string, args: string[]): NewClientInput {
  const { values } = parse(command, args, {
    id: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-uri': { type: 'string', multiple: true },
    'auth-method': { type: 'string' },
    name: { type: 'string' },
    'jwks-uri': { type: 'string' },
    'jwks-file': { type: 'string' },
    'min-acr': { type: 'string' },
    'consent-required': { type: 'boolean' },
    'backchannel-logout-uri': { type: 'string' },
  });
  const clientId = required(command, values.id, '--id');
  if (!/^[A-Za-z0-9._-]{3,64}$/.test(clientId)) throw new UsageError(`${command}: --id must be 3–64 characters: letters, digits, . _ -`);
  const redirectUris = (values['redirect-uri'] ?? []).map((u) => url(command, u, '--redirect-uri'));
  if (redirectUris.length === 0) throw new UsageError(`${command}: at least one --redirect-uri is required`);
  const postLogoutRedirectUris = (values['post-logout-uri'] ?? []).map((u) => url(command, u, '--post-logout-uri'));
  const authMethod = (values['auth-method'] ?? 'client_secret_basic') as AuthMethod;
  if (!AUTH_METHODS.includes(authMethod)) throw new UsageError(`${command}: --auth-method must be one of ${AUTH_METHODS.join(', ')}`);
  const name = values.name?.trim();
  if (name !== undefined && (name === '' || name.length > 200)) throw new UsageError(`${command}: --name must be 1–200 characters`);

  if (values['jwks-uri'] !== undefined && values['jwks-file'] !== undefined) {
    throw new UsageError(`${command}: give --jwks-uri or --jwks-file, not both`);
  }
  const hasKeys = values['jwks-uri'] !== undefined || values['jwks-file'] !== undefined;
  if (authMethod === 'private_key_jwt' && !hasKeys) throw new UsageError(`${command}: private_key_jwt needs --jwks-uri or --jwks-file`);
  if (authMethod !== 'private_key_jwt' && hasKeys) throw new UsageError(`${command}: --jwks-uri and --jwks-file go with --auth-method private_key_jwt`);
  const jwksUri = values['jwks-uri'] === undefined ? undefined : url(command, values['jwks-uri'], '--jwks-uri');
  const jwks = values['jwks-file'] === undefined ? undefined : jwksFromFile(command, values['jwks-file']);
  const backchannelLogoutUri =
    values['backchannel-logout-uri'] === undefined ? undefined : url(command, values['backchannel-logout-uri'], '--backchannel-logout-uri');

  return {
    clientId,
    redirectUris,
    postLogoutRedirectUris,
    authMethod,
    ...(name !== undefined && { clientName: name }),
    ...(jwksUri !== undefined && { jwksUri }),
    ...(jwks !== undefined && { jwks }),
    ...(values['min-acr'] !== undefined && { minAcr: acrArgument(command, values['min-acr'], cli.config) }),
    ...(values['consent-required'] && { consentRequired: true }),
    ...(backchannelLogoutUri !== undefined && { backchannelLogoutUri }),
  };
}

const add: Command = {
  name: 'client add',
  synopsis:
    '--id ID --redirect-uri URI [--redirect-uri URI …] [--post-logout-uri URI …]\n' +
    '        [--auth-method client_secret_basic|client_secret_post|private_key_jwt] [--name NAME]\n' +
    '        [--jwks-uri URL | --jwks-file PATH] [--min-acr low|substantial|ACR] [--consent-required]\n' +
    '        [--backchannel-logout-uri URI]',
  summary: 'register a relying party; prints its secret once',
  async run(cli, args) {
    const input = clientInput(cli, this.name, args);
    await cli.withProvider(async (deps, provider) => {
      const { clientId, clientSecret } = await registerClient(deps, provider, input);
      cli.out(`client_id:     ${clientId}`);
      if (clientSecret) {
        cli.out(`client_secret: ${clientSecret}`);
        cli.out('The secret is shown only this once: kapu stores it encrypted and cannot show it again. Hand it to the service over a safe channel.');
      }
    });
  },
};

const list: Command = {
  name: 'client list',
  synopsis: '[--json]',
  summary: 'list relying parties (never their secrets)',
  async run(cli, args) {
    const { values } = parse(this.name, args, { json: { type: 'boolean' } });
    await cli.withDeps(async (deps) => {
      // Explicit fields: nothing from the stored metadata is printed by accident.
      const clients = (await deps.repos.clients.list()).map((c) => {
        const m = c.metadata;
        const text = (v: unknown) => (typeof v === 'string' ? v : null);
        const texts = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
        return {
          clientId: c.client_id,
          name: text(m['client_name']),
          redirectUris: texts(m['redirect_uris']),
          postLogoutRedirectUris: texts(m['post_logout_redirect_uris']),
          authMethod: text(m['token_endpoint_auth_method']),
          minAcr: text(m['min_acr']),
          consentRequired: m['consent_required'] === true,
          backchannelLogoutUri: text(m['backchannel_logout_uri']),
          createdAt: c.created_at,
        };
      });
      if (values.json) return cli.json(clients);
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
      cli.out(`client ${printable(clientId)} removed`);
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
      cli.out(minAcr ? `client ${printable(clientId)}: min acr ${minAcr}` : `client ${printable(clientId)}: no min acr`);
    });
  },
};

export const clientCommands: Command[] = [add, list, remove, setMinAcr];
