import type { Db } from '../database.ts';
import { factorKinds } from './accounts.ts';

/**
 * Sessions of the account portal, shared by every replica. Only the SHA-256 of a session's
 * token is stored: a copy of the table opens no session.
 */
export class PortalSessionsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * A new session, in one statement that also ends the session the portal sign-in `flowUid`
   * replaces (the one the browser had when that sign-in began).
   */
  async create(session: { id: string; accountId: string; now: Date; expiresAt: Date; ip: string | null; browser: string | null; flowUid: string }): Promise<void> {
    await this.#db
      .with('replaced', (db) =>
        db.deleteFrom('portal_session').where('id', 'in', db.selectFrom('login_flow').select('replaces_session').where('uid', '=', session.flowUid).where('replaces_session', 'is not', null)),
      )
      .insertInto('portal_session')
      .values({ id: session.id, account_id: session.accountId, created_at: session.now, last_seen_at: session.now, expires_at: session.expiresAt, ip: session.ip, browser: session.browser })
      .execute();
  }

  /**
   * The live session `id` with its account, in one statement that also records this visit: a
   * session idle since before `idleSince`, or past its lifetime, is no session.
   */
  async touch(id: string, now: Date, idleSince: Date) {
    const row = await this.#db
      .with('seen', (db) =>
        db
          .updateTable('portal_session')
          .set({ last_seen_at: now })
          .where('id', '=', id)
          .where('expires_at', '>', now)
          .where('last_seen_at', '>', idleSince)
          .returning(['account_id', 'created_at']),
      )
      .selectFrom('seen')
      .innerJoin('account as a', 'a.id', 'seen.account_id')
      .select(['a.id', 'a.username', 'a.name', 'a.email', 'seen.created_at as signed_in_at'])
      .select(factorKinds('a.id').as('factor_kinds'))
      .executeTakeFirst();
    return row;
  }

  async remove(id: string): Promise<void> {
    await this.#db.deleteFrom('portal_session').where('id', '=', id).execute();
  }

  /** Ends the account's sessions, but `except` (the one that asked); returns how many ended. */
  async removeForAccount(accountId: string, except?: string): Promise<number> {
    let query = this.#db.deleteFrom('portal_session').where('account_id', '=', accountId);
    if (except) query = query.where('id', '!=', except);
    return Number((await query.executeTakeFirst()).numDeletedRows);
  }

  async deleteExpired(now: Date, idleSince: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('portal_session')
      .where((eb) => eb.or([eb('expires_at', '<', now), eb('last_seen_at', '<', idleSince)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

