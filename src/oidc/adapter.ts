/**
 * oidc-provider's storage Adapter over Postgres. One instance per model name.
 * The Client model is special: relying parties live in their own table, with the client
 * secret sealed at rest and opened only here, when the provider needs it.
 */
import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { ClientsRepository } from '../db/repositories/clients.ts';
import type { OidcPayloadsRepository } from '../db/repositories/oidc-payloads.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';

export interface AdapterDeps {
  payloads: OidcPayloadsRepository;
  clients: ClientsRepository;
  secretBox: SecretBox;
  clock: Clock;
}

export function createAdapterFactory(deps: AdapterDeps): (model: string) => Adapter {
  return (model) => (model === 'Client' ? new ClientAdapter(deps) : new PayloadAdapter(model, deps));
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
    await this.#deps.payloads.upsert(this.#model, id, payload as Record<string, unknown>, expiresAt);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#read('id', id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#read('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#read('user_code', userCode);
  }

  /**
   * oidc-provider reads `consumed`, then calls consume(): two requests redeeming the same code
   * or refresh token at once would both pass its check. The conditional update here lets only
   * the first win; the loser is treated as reuse, as the library treats reuse: the whole grant
   * is revoked and the request refused.
   */
  async consume(id: string): Promise<void> {
    if (await this.#deps.payloads.consume(this.#model, id, this.#deps.clock.now())) return;
    const found = await this.#deps.payloads.find(this.#model, 'id', id, this.#deps.clock.now());
    const grantId = found?.payload['grantId'];
    if (typeof grantId === 'string') {
      // The Grant row itself carries no grant_id column; without it nothing issued under the
      // grant (even the winner's new tokens, saved after this) is honoured any more.
      await this.#deps.payloads.destroy('Grant', grantId);
      await this.#deps.payloads.revokeByGrantId(grantId);
    }
    throw new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    await this.#deps.payloads.destroy(this.#model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#deps.payloads.revokeByGrantId(grantId);
  }

  async #read(by: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const found = await this.#deps.payloads.find(this.#model, by, value, this.#deps.clock.now());
    if (!found) return undefined;
    const payload = found.payload as AdapterPayload;
    // oidc-provider expects `consumed` as epoch seconds, which it checks to detect code reuse.
    return found.consumedAt ? { ...payload, consumed: Math.floor(found.consumedAt.getTime() / 1000) } : payload;
  }
}

class ClientAdapter implements Adapter {
  readonly #deps: AdapterDeps;
  constructor(deps: AdapterDeps) {
    this.#deps = deps;
  }

  async find(clientId: string): Promise<AdapterPayload | undefined> {
    const row = await this.#deps.clients.find(clientId);
    if (!row) return undefined;
    const metadata: Record<string, unknown> = { ...row.metadata, client_id: row.client_id };
    if (row.secret_sealed) metadata['client_secret'] = this.#deps.secretBox.openText(row.secret_sealed, AAD.clientSecret(row.client_id));
    return metadata as AdapterPayload;
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
