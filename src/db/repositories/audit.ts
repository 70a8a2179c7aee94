import type { Db } from '../database.ts';

export type AuditEventType =
  | 'signin.password_failed'
  | 'signin.password_ok'
  | 'signin.succeeded'
  | 'signin.factor_failed'
  | 'signin.aborted'
  | 'signin.locked'
  | 'code.sent'
  | 'code.exhausted'
  | 'factor.enrolled'
  | 'factor.removed'
  | 'account.created'
  | 'account.unlocked'
  | 'client.updated'
  | 'client.created'
  | 'client.removed';

export interface AuditEvent {
  type: AuditEventType;
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  /** Never a secret: no password, code, token or key. */
  detail?: Record<string, string | number | boolean | null>;
}

/** Append-only by construction: this repository has no update and no delete. */
export class AuditRepository {
  readonly #db: Db;
  readonly #onRecord: (event: AuditEvent) => void;

  /** `onRecord` sees each event after it is stored (metrics count them). */
  constructor(db: Db, onRecord: (event: AuditEvent) => void = () => {}) {
    this.#db = db;
    this.#onRecord = onRecord;
  }

  async record(event: AuditEvent, at: Date): Promise<void> {
    await this.#db
      .insertInto('audit_event')
      .values({
        at,
        type: event.type,
        account_id: event.accountId ?? null,
        client_id: event.clientId ?? null,
        ip: event.ip ?? null,
        detail: JSON.stringify(event.detail ?? {}),
      })
      .execute();
    this.#onRecord(event);
  }

  async list(filter: { accountId?: string; type?: string; limit: number }) {
    let query = this.#db
      .selectFrom('audit_event')
      .select(['id', 'at', 'type', 'account_id', 'client_id', 'ip', 'detail'])
      .orderBy('id', 'desc')
      .limit(filter.limit);
    if (filter.accountId) query = query.where('account_id', '=', filter.accountId);
    if (filter.type) query = query.where('type', '=', filter.type);
    return query.execute();
  }
}
