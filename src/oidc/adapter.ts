/**
 * oidc-provider's storage Adapter over Postgres, one instance per model name, with a unit of
 * work per provider request (`providerUnitOfWork`, mounted with `provider.use`):
 *
 * - Reads are done once per request. A token's (or a finished interaction's) lookup brings,
 *   in the same query, the session, the grant and the account the request will ask for next
 *   (src/db/repositories/oidc-payloads.ts findWithContext); they are answered from the request.
 * - Writes are collected and stored together, in one statement, when the request's handling
 *   ends and before its response is sent: a response never announces what is not stored.
 *   A request reads its own writes.
 * - Redeeming an authorization code or a refresh token (`consume`, at the token endpoint) is
 *   stored in that same statement, which writes the request's tokens only if the row was still
 *   unconsumed: of two requests redeeming the same code or token, the first to store wins, and
 *   the other stores nothing and answers `invalid_grant`, having revoked the grant (reuse).
 *
 * Outside a provider request (kapu's own routes calling the provider's models) every call goes
 * straight to the database.
 *
 * The Client model is special: relying parties live in their own table, cached by the client
 * directory, with the client secret sealed at rest.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, Next } from 'koa';
import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { AccountWithFactors, ModelId, OidcPayloadsRepository, PayloadWrite, StoredPayload } from '../db/repositories/oidc-payloads.ts';
import { hasNul } from '../http/input-guard.ts';
import type { ClientDirectory } from './client-directory.ts';

export interface AdapterDeps {
  payloads: OidcPayloadsRepository;
  clients: ClientDirectory;
  clock: Clock;
}

/** Models redeemed only at the token endpoint, whose redemption is stored with its tokens. */
const CONSUMED_WITH_WRITES = new Set(['AuthorizationCode', 'RefreshToken']);

/** Models whose lookup brings its session, grant and account along. */
const WITH_CONTEXT = new Set(['AuthorizationCode', 'AccessToken', 'RefreshToken', 'Interaction']);

/** What one provider request has read and written. */
class RequestScope {
  /** By `model:id`; null: known to be absent (destroyed, or looked up and not found). */
  readonly known = new Map<string, StoredPayload | null>();
  /** `model:uid` → id, for findByUid. */
  readonly uids = new Map<string, string>();
  readonly accounts = new Map<string, AccountWithFactors>();
  readonly upserts = new Map<string, PayloadWrite>();
  readonly deletes = new Map<string, ModelId>();
  /** Redemptions to store with the writes (CONSUMED_WITH_WRITES), and when they were made. */
  readonly consumes = new Map<string, ModelId>();
  consumedAt: Date | undefined;

  remember(model: string, id: string, found: StoredPayload | null): void {
    this.known.set(`${model}:${id}`, found);
    const uid = found?.payload['uid'];
    if (typeof uid === 'string') this.uids.set(`${model}:${uid}`, id);
  }

  /** A row read from the database. */
  found(model: string, found: StoredPayload): void {
    this.remember(model, found.id, found);
  }
}

const requests = new AsyncLocalStorage<RequestScope>();

/** The provider-request unit of work: `provider.use(providerUnitOfWork(payloads))`. */
export function providerUnitOfWork(payloads: OidcPayloadsRepository) {
  return async (ctx: Context, next: Next) => {
    const scope = new RequestScope();
    await requests.run(scope, async () => {
      try {
        await next();
      } finally {
        if (scope.upserts.size + scope.deletes.size + scope.consumes.size > 0) {
          const won = await payloads.apply([...scope.upserts.values()], [...scope.deletes.values()], [...scope.consumes.values()], scope.consumedAt);
          if (!won) await refuseReuse(ctx, scope, payloads);
        }
      }
    });
  };
}

/**
 * Another request redeemed this request's code or refresh token first: what the library does
 * on reuse. The whole grant is revoked (the winner's new tokens too), and the client gets
 * `invalid_grant` instead of the tokens this request made and never stored.
 */
async function refuseReuse(ctx: Context, scope: RequestScope, payloads: OidcPayloadsRepository): Promise<void> {
  for (const { model, id } of scope.consumes.values()) {
    const grantId = scope.known.get(`${model}:${id}`)?.payload['grantId'];
    if (typeof grantId !== 'string') continue;
    await payloads.revokeByGrantId(grantId);
    await payloads.destroy('Grant', grantId);
  }
  const refused = new errors.InvalidGrant('grant already used');
  ctx.status = refused.statusCode;
  ctx.body = { error: refused.error, error_description: refused.error_description };
}

/** The account a lookup of this request already brought along (findAccount asks here first). */
export function accountOfRequest(id: string): AccountWithFactors | undefined {
  return requests.getStore()?.accounts.get(id);
}

export function createAdapterFactory(deps: AdapterDeps): (model: string) => Adapter {
  return (model) => (model === 'Client' ? new ClientAdapter(deps.clients) : new PayloadAdapter(model, deps));
}

class PayloadAdapter implements Adapter {
  readonly #model: string;
  readonly #deps: AdapterDeps;

  constructor(model: string, deps: AdapterDeps) {
    this.#model = model;
    this.#deps = deps;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(this.#deps.clock.now().getTime() + expiresIn * 1000) : null;
    const write: PayloadWrite = { model: this.#model, id, payload: payload as Record<string, unknown>, expiresAt };
    const scope = requests.getStore();
    if (!scope) return this.#deps.payloads.upsert(write);
    const key = `${this.#model}:${id}`;
    scope.deletes.delete(key);
    scope.upserts.set(key, write);
    // An upsert keeps the row's consumption (consume() is the only writer of it).
    scope.remember(this.#model, id, { id, payload: write.payload, consumedAt: scope.known.get(key)?.consumedAt ?? null });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // An id no row can have (a NUL from a Basic header or a JWT claim) is not asked about.
    if (hasNul(id)) return undefined;
    const scope = requests.getStore();
    const key = `${this.#model}:${id}`;
    if (scope?.known.has(key)) return asPayload(scope.known.get(key) ?? undefined);
    return asPayload(await this.#read(scope, 'id', id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (hasNul(uid)) return undefined;
    const scope = requests.getStore();
    const id = scope?.uids.get(`${this.#model}:${uid}`);
    if (scope && id !== undefined) return asPayload(scope.known.get(`${this.#model}:${id}`) ?? undefined);
    return asPayload(await this.#read(scope, 'uid', uid));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (hasNul(userCode)) return undefined;
    return asPayload(await this.#deps.payloads.find(this.#model, 'user_code', userCode, this.#deps.clock.now()));
  }

  /**
   * oidc-provider reads `consumed`, then calls consume(): two requests redeeming the same code
   * or refresh token at once would both pass its check. A conditional update lets only the
   * first win; the loser is treated as reuse, as the library treats reuse: the whole grant is
   * revoked and the request refused. At the token endpoint that update is the request's one
   * write statement (see providerUnitOfWork); elsewhere it runs at once.
   */
  async consume(id: string): Promise<void> {
    const now = this.#deps.clock.now();
    const scope = requests.getStore();
    const key = `${this.#model}:${id}`;
    const known = scope?.known.get(key);
    if (scope && known && CONSUMED_WITH_WRITES.has(this.#model)) {
      // Decided when the request's writes are stored (providerUnitOfWork).
      scope.consumes.set(key, { model: this.#model, id });
      scope.consumedAt ??= now;
      known.consumedAt = now;
      return;
    }
    if (await this.#deps.payloads.consume(this.#model, id, now)) {
      if (known) known.consumedAt = now;
      return;
    }
    const found = await this.#deps.payloads.find(this.#model, 'id', id, now);
    const grantId = found?.payload['grantId'];
    if (typeof grantId === 'string') {
      // The Grant row itself carries no grant_id column; without it nothing issued under the
      // grant (even the winner's new tokens, saved after this) is honoured any more.
      await this.revokeByGrantId(grantId);
      await this.#deps.payloads.destroy('Grant', grantId);
      scope?.known.set(`Grant:${grantId}`, null);
    }
    throw new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    const scope = requests.getStore();
    if (!scope) return this.#deps.payloads.destroy(this.#model, id);
    const key = `${this.#model}:${id}`;
    scope.upserts.delete(key);
    scope.deletes.set(key, { model: this.#model, id });
    scope.known.set(key, null);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#deps.payloads.revokeByGrantId(grantId);
    const scope = requests.getStore();
    if (!scope) return;
    for (const [key, write] of scope.upserts) {
      if (write.payload['grantId'] === grantId) {
        scope.upserts.delete(key);
        scope.known.set(key, null);
      }
    }
    for (const [key, found] of scope.known) if (found?.payload['grantId'] === grantId) scope.known.set(key, null);
  }

  async #read(scope: RequestScope | undefined, by: 'id' | 'uid', value: string): Promise<StoredPayload | undefined> {
    const now = this.#deps.clock.now();
    if (!scope) return this.#deps.payloads.find(this.#model, by, value, now);
    if (!WITH_CONTEXT.has(this.#model)) {
      const found = await this.#deps.payloads.find(this.#model, by, value, now);
      if (found) scope.found(this.#model, found);
      else if (by === 'id') scope.remember(this.#model, value, null);
      return found;
    }
    const result = await this.#deps.payloads.findWithContext(this.#model, by, value, now);
    if (!result) {
      if (by === 'id') scope.remember(this.#model, value, null);
      return undefined;
    }
    const { found, context } = result;
    scope.found(this.#model, found);
    if (context.session) scope.found('Session', context.session);
    if (context.grant) scope.found('Grant', context.grant);
    if (context.account) scope.accounts.set(context.account.id, context.account);
    return found;
  }
}

/** The payload oidc-provider expects: `consumed` as epoch seconds, which it checks for reuse. */
function asPayload(found: StoredPayload | undefined): AdapterPayload | undefined {
  if (!found) return undefined;
  const payload = found.payload as AdapterPayload;
  return found.consumedAt ? { ...payload, consumed: Math.floor(found.consumedAt.getTime() / 1000) } : payload;
}

class ClientAdapter implements Adapter {
  readonly #clients: ClientDirectory;
  constructor(clients: ClientDirectory) {
    this.#clients = clients;
  }

  async find(clientId: string): Promise<AdapterPayload | undefined> {
    if (hasNul(clientId)) return undefined;
    return (await this.#clients.find(clientId))?.metadata as AdapterPayload | undefined;
  }

  // Clients are managed with the admin CLI, never by the provider (no dynamic registration).
  async upsert(): Promise<void> {
    throw new Error('clients are read-only to the provider');
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}
