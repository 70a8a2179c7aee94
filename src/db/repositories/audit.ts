import type { Db } from '../database.ts';
import type { Effects } from '../unit-of-work.ts';

export type AuditEventType =
  | 'signin.password_failed'
  | 'signin.password_ok'
  | 'signin.succeeded'
  | 'signin.factor_failed'
  | 'signin.aborted'
  | 'signin.locked'
  /** A mailed link let a browser past a username lock: from now on it counts as one that signed in before. */
  | 'signin.unlocked'
  | 'code.sent'
  /**
   * A stand-in: no code or link was mailed (a guarded sign-in's wrong password; a forgotten
   * password or an unlock link asked for a name that is nobody's).
   */
  | 'code.withheld'
  | 'code.exhausted'
  | 'factor.enrolled'
  | 'factor.removed'
  | 'password.changed'
  | 'password.reset'
  | 'email.changed'
  | 'sessions.ended'
  | 'account.created'
  | 'account.unlocked'
  | 'account.disabled'
  | 'account.enabled'
  | 'account.removed'
  | 'account.imported'
  | 'client.secret_rotated'
  | 'key.rotated'
  | 'client.updated'
  | 'client.created'
  | 'client.removed';

/**
 * What /metrics may count of a step whose page hides how it went: the same whichever way it
 * went (SPEC §5). A guarded sign-in's password (right or wrong) and its code (mailed or a
 * stand-in); a forgotten password's code and a link past a lock, asked for a name (anyone's
 * or nobody's).
 */
export type SeenAs = 'signin.guarded' | 'code.guarded' | 'reset.asked' | 'unlock.asked';

export interface AuditEvent {
  type: AuditEventType;
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  /** Never a secret: no password, code, token or key. */
  detail?: Record<string, string | number | boolean | null>;
  /**
   * Set where the page hides what happened: /metrics counts the event under this alone. The
   * audit log, which only operators read (`audit list`), keeps the truth in `type`.
   */
  seenAs?: SeenAs;
}

/** Events as rows of `audit_event`, for this repository and for a statement that records them with its own writes. */
export function auditRows(events: readonly AuditEvent[], at: Date) {
  return events.map((e) => ({ at, type: e.type, account_id: e.accountId ?? null, client_id: e.clientId ?? null, ip: e.ip ?? null, detail: JSON.stringify(e.detail ?? {}) }));
}

/** Append-only by construction: this repository has no update and no delete. */
export class AuditRepository {
  readonly #db: Db;
  readonly #effects: Effects;
  readonly #onRecorded: (event: AuditEvent) => void;

  /** `onRecorded` sees each event once it is committed (metrics count them). */
  constructor(db: Db, effects: Effects, onRecorded: (event: AuditEvent) => void = () => {}) {
    this.#db = db;
    this.#effects = effects;
    this.#onRecorded = onRecorded;
  }

  /** Records one event, or several in one statement. */
  async record(event: AuditEvent | AuditEvent[], at: Date): Promise<void> {
    const events = Array.isArray(event) ? event : [event];
    if (events.length === 0) return;
    await this.#db.insertInto('audit_event').values(auditRows(events, at)).execute();
    this.announce(events);
  }

  /** Events another repository's statement recorded in this unit of work: seen once it commits. */
  announce(events: readonly AuditEvent[]): void {
    this.#effects.afterCommit(() => {
      for (const e of events) this.#onRecorded(e);
    });
  }

  async list(filter: {
    accountId?: string;
    clientId?: string;
    type?: string;
    types?: readonly string[];
    since?: Date;
    until?: Date;
    /** Older than this event id (paging backwards through the log). */
    before?: string;
    limit: number;
  }) {
    let query = this.#db
      .selectFrom('audit_event')
      .select(['id', 'at', 'type', 'account_id', 'client_id', 'ip', 'detail'])
      .orderBy('id', 'desc')
      .limit(filter.limit);
    if (filter.accountId) query = query.where('account_id', '=', filter.accountId);
    if (filter.clientId) query = query.where('client_id', '=', filter.clientId);
    if (filter.type) query = query.where('type', '=', filter.type);
    if (filter.types) query = query.where('type', 'in', filter.types);
    if (filter.since) query = query.where('at', '>=', filter.since);
    if (filter.until) query = query.where('at', '<', filter.until);
    if (filter.before) query = query.where('id', '<', filter.before);
    return query.execute();
  }
}
