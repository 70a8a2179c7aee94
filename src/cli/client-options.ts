/**
 * What `client add` and `client update` take from the command line: each option checked and
 * turned into what the admin layer (src/admin/clients.ts) is given, or a usage error that
 * names the option. Nothing here opens the database.
 */
import { readFileSync, statSync } from 'node:fs';
import { INVISIBLE } from '../admin/accounts.ts';
import type { NewClientInput } from '../admin/clients.ts';
import type { Config } from '../config/index.ts';
import { LOGO_MAX_BYTES, LogoRefused, checkLogo } from '../oidc/client-logos.ts';
import { AUTH_METHODS, type AuthMethod, CLIENT_ID_PATTERN, TOKEN_LIFETIMES, type TokenLifetime } from '../oidc/client-metadata.ts';
import { PKCE_POLICIES, type PkcePolicy, pkcePolicyProblem } from '../oidc/client-policy.ts';
import { SUBJECT_TYPES, SectorRefused, type SubjectType, sectorOf } from '../oidc/pairwise.ts';
import { UsageError, integer, parse, printable, required, url } from './args.ts';
import type { Cli } from './context.ts';

/** `low` / `substantial` name the configured acr values; a full URI must be one of them. */
export function acrArgument(command: string, value: string, config: Config): string {
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

/**
 * The logo kapu's pages show, from an image file: PNG, JPEG or WebP by its content, at most
 * 64 KiB. Checked before anything is opened, so a wrong file changes nothing.
 */
export function logoFromFile(command: string, path: string): Buffer {
  if (path.trim() === '') throw new UsageError(`${command}: --logo-file needs a file name${command === 'client update' ? ' (--no-logo removes the logo)' : ''}`);
  let bytes: Buffer;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new UsageError(`${command}: --logo-file must be a file: ${printable(path)}`);
    // A film or a disk image given by mistake is refused without being read.
    if (stat.size > LOGO_MAX_BYTES) throw new LogoRefused(`the logo is ${stat.size} bytes; at most ${LOGO_MAX_BYTES} bytes (64 KiB) are accepted: make it smaller`);
    bytes = readFileSync(path);
    checkLogo(bytes);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof LogoRefused) throw new UsageError(`${command}: --logo-file ${printable(path)}: ${err.message}`);
    throw new UsageError(`${command}: cannot read --logo-file: ${(err as NodeJS.ErrnoException).code ?? 'error'} ${printable(path)}`);
  }
  return bytes;
}

export function clientInput(cli: Cli, command: string, args: string[]): NewClientInput {
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
    'logo-uri': { type: 'string' },
    'logo-file': { type: 'string' },
    'client-uri': { type: 'string' },
    pkce: { type: 'string' },
    'subject-type': { type: 'string' },
    'sector-identifier-uri': { type: 'string' },
    ...LIFETIME_OPTIONS,
  });
  const clientId = required(command, values.id, '--id');
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new UsageError(`${command}: --id must be 3–64 characters: letters, digits, . _ -`);
  const redirectUris = (values['redirect-uri'] ?? []).map((u) => url(command, u, '--redirect-uri'));
  if (redirectUris.length === 0) throw new UsageError(`${command}: at least one --redirect-uri is required`);
  const postLogoutRedirectUris = (values['post-logout-uri'] ?? []).map((u) => url(command, u, '--post-logout-uri'));
  const authMethod = (values['auth-method'] ?? 'client_secret_basic') as AuthMethod;
  const pkce = values.pkce === undefined ? undefined : pkceArgument(command, values.pkce);
  // Before the method's own check: asking a public client to skip PKCE is the mistake to name.
  const pkceProblem = pkcePolicyProblem(pkce, authMethod);
  if (pkceProblem) throw new UsageError(`${command}: --pkce ${pkce}: ${pkceProblem}`);
  if (!AUTH_METHODS.includes(authMethod)) throw new UsageError(`${command}: --auth-method must be one of ${AUTH_METHODS.join(', ')}`);
  const name = values.name === undefined ? undefined : clientName(command, values.name);

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
  const logo = values['logo-file'] === undefined ? undefined : logoFromFile(command, values['logo-file']);
  const subjectType = values['subject-type'] === undefined ? undefined : subjectTypeArgument(command, values['subject-type']);
  const sectorIdentifierUri = values['sector-identifier-uri'] === undefined ? undefined : url(command, values['sector-identifier-uri'], '--sector-identifier-uri');
  if (sectorIdentifierUri !== undefined && subjectType !== 'pairwise') throw new UsageError(`${command}: --sector-identifier-uri goes with --subject-type pairwise`);
  if (subjectType === 'pairwise') {
    try {
      sectorOf(redirectUris, sectorIdentifierUri);
    } catch (err) {
      if (err instanceof SectorRefused) throw new UsageError(`${command}: --subject-type pairwise: ${err.message.replace('a sector identifier URI', '--sector-identifier-uri')}`);
      throw err;
    }
  }

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
    ...(values['logo-uri'] !== undefined && { logoUri: url(command, values['logo-uri'], '--logo-uri') }),
    ...(values['client-uri'] !== undefined && { clientUri: url(command, values['client-uri'], '--client-uri') }),
    ...(logo !== undefined && { logo }),
    ...(pkce !== undefined && { pkce }),
    ...(subjectType !== undefined && { subjectType }),
    ...(sectorIdentifierUri !== undefined && { sectorIdentifierUri }),
    lifetimes: lifetimes(command, values),
  };
}

export const LIFETIME_OPTIONS = {
  'access-token-ttl': { type: 'string' },
  'id-token-ttl': { type: 'string' },
  'refresh-token-ttl': { type: 'string' },
} as const;

export const LIFETIME_FLAGS: Record<keyof typeof LIFETIME_OPTIONS, TokenLifetime> = {
  'access-token-ttl': 'access_token_ttl',
  'id-token-ttl': 'id_token_ttl',
  'refresh-token-ttl': 'refresh_token_ttl',
};

/** Token lifetimes in seconds, within TOKEN_LIFETIMES' bounds. */
export function lifetimes(command: string, values: Partial<Record<keyof typeof LIFETIME_OPTIONS, string | undefined>>): Partial<Record<TokenLifetime, number>> {
  const out: Partial<Record<TokenLifetime, number>> = {};
  for (const [flag, key] of Object.entries(LIFETIME_FLAGS) as Array<[keyof typeof LIFETIME_OPTIONS, TokenLifetime]>) {
    const value = values[flag];
    if (value !== undefined) out[key] = integer(command, value, `--${flag}`, TOKEN_LIFETIMES[key].min, TOKEN_LIFETIMES[key].max, 0);
  }
  return out;
}

export function clientName(command: string, value: string): string {
  const name = value.trim();
  if (name === '' || name.length > 200) throw new UsageError(`${command}: --name must be 1–200 characters`);
  if (INVISIBLE.test(name)) {
    throw new UsageError(`${command}: --name must not contain control characters or invisible formatting characters (e.g. bidirectional overrides)`);
  }
  return name;
}

/** `required` or `optional` (a confidential client may rely on the nonce instead). */
export function pkceArgument(command: string, value: string): PkcePolicy {
  if (!(PKCE_POLICIES as readonly string[]).includes(value)) throw new UsageError(`${command}: --pkce must be required or optional`);
  return value as PkcePolicy;
}

/** `public` (the account id as `sub`) or `pairwise` (a `sub` per sector). */
export function subjectTypeArgument(command: string, value: string): SubjectType {
  if (!(SUBJECT_TYPES as readonly string[]).includes(value)) throw new UsageError(`${command}: --subject-type must be public or pairwise`);
  return value as SubjectType;
}

/** `URI` or `none` (removes it). */
export function uriOrNone(command: string, value: string | undefined, flag: string): string | null | undefined {
  if (value === undefined) return undefined;
  return value === 'none' ? null : url(command, value, flag);
}
