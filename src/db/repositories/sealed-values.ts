import { AAD } from '../../security/secret-box.ts';
import type { Db } from '../database.ts';

/**
 * Every column sealed with the SecretBox, for key rotation: each value comes with the
 * associated data it was sealed under (which ties it to its row).
 */
export interface SealedValue {
  table: 'factor' | 'enrollment' | 'oidc_client' | 'oidc_client_previous' | 'signing_key' | 'mail_outbox' | 'pairwise_key';
  id: string;
  aad: string;
  sealed: string;
}

export class SealedValuesRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async all(): Promise<SealedValue[]> {
    const [factors, enrollments, clients, previous, keys, mails, pairwise] = [
      await this.#db.selectFrom('factor').select(['id', 'account_id', 'kind', 'secret_sealed']).where('secret_sealed', 'is not', null).execute(),
      await this.#db.selectFrom('enrollment').select(['id', 'secret_sealed']).where('secret_sealed', 'is not', null).execute(),
      await this.#db.selectFrom('oidc_client').select(['client_id', 'secret_sealed']).where('secret_sealed', 'is not', null).execute(),
      await this.#db.selectFrom('oidc_client').select(['client_id', 'previous_secret_sealed']).where('previous_secret_sealed', 'is not', null).execute(),
      await this.#db.selectFrom('signing_key').select(['kid', 'private_jwk_sealed']).execute(),
      await this.#db.selectFrom('mail_outbox').select(['id', 'message_sealed']).where('message_sealed', 'is not', null).execute(),
      await this.#db.selectFrom('pairwise_key').select(['id', 'key_sealed']).execute(),
    ];
    return [
      ...factors.map((r) => ({ table: 'factor' as const, id: r.id, aad: AAD.factorSecret(r.account_id, r.kind), sealed: r.secret_sealed! })),
      ...enrollments.map((r) => ({ table: 'enrollment' as const, id: r.id, aad: AAD.enrollmentSecret(r.id), sealed: r.secret_sealed! })),
      ...clients.map((r) => ({ table: 'oidc_client' as const, id: r.client_id, aad: AAD.clientSecret(r.client_id), sealed: r.secret_sealed! })),
      ...previous.map((r) => ({ table: 'oidc_client_previous' as const, id: r.client_id, aad: AAD.clientSecret(r.client_id), sealed: r.previous_secret_sealed! })),
      ...keys.map((r) => ({ table: 'signing_key' as const, id: r.kid, aad: AAD.signingKey(r.kid), sealed: r.private_jwk_sealed })),
      ...mails.map((r) => ({ table: 'mail_outbox' as const, id: r.id, aad: AAD.outbox, sealed: r.message_sealed! })),
      ...pairwise.map((r) => ({ table: 'pairwise_key' as const, id: String(r.id), aad: AAD.pairwiseKey, sealed: r.key_sealed })),
    ];
  }

  /** Replaces one sealed value, only if it is still the one that was read. */
  async replace(value: SealedValue, resealed: string): Promise<boolean> {
    const result = await this.#replacement(value, resealed).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  #replacement(value: SealedValue, resealed: string) {
    const db = this.#db;
    switch (value.table) {
      case 'factor':
        return db.updateTable('factor').set({ secret_sealed: resealed }).where('id', '=', value.id).where('secret_sealed', '=', value.sealed);
      case 'enrollment':
        return db.updateTable('enrollment').set({ secret_sealed: resealed }).where('id', '=', value.id).where('secret_sealed', '=', value.sealed);
      case 'oidc_client':
        return db.updateTable('oidc_client').set({ secret_sealed: resealed }).where('client_id', '=', value.id).where('secret_sealed', '=', value.sealed);
      case 'oidc_client_previous':
        return db
          .updateTable('oidc_client')
          .set({ previous_secret_sealed: resealed })
          .where('client_id', '=', value.id)
          .where('previous_secret_sealed', '=', value.sealed);
      case 'signing_key':
        return db.updateTable('signing_key').set({ private_jwk_sealed: resealed }).where('kid', '=', value.id).where('private_jwk_sealed', '=', value.sealed);
      case 'mail_outbox':
        return db.updateTable('mail_outbox').set({ message_sealed: resealed }).where('id', '=', value.id).where('message_sealed', '=', value.sealed);
      case 'pairwise_key':
        return db.updateTable('pairwise_key').set({ key_sealed: resealed }).where('id', '=', Number(value.id)).where('key_sealed', '=', value.sealed);
    }
  }
}
