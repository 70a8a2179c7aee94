import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { factorKinds } from './accounts.ts';

export type RecoveryKind = 'reset' | 'unlock';

/** How many requests a name may make in an hour: in all, and from one address. */
export interface RecoveryCaps {
  perName: number;
  perNameAndAddress: number;
}

/**
 * Requests made in a username's name (a forgotten password's code, a link past a lock), with
 * their rules in the queries: the hourly caps decided under a lock on the name, a code's try
 * counted before it is compared, and single use by `UPDATE … WHERE used_at IS NULL`. Every
 * statement runs the same whether the name is anyone's: a stand-in's row has no account.
 */
export class RecoveryRequestsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Writes a request unless the name has made `caps.perName` in the last hour, or
   * `caps.perNameAndAddress` from this address: false then, and nothing is written.
   */
  async create(
    request: { id: string; kind: RecoveryKind; username: string; accountId: string | null; ipKey: string; tag: string; secretHash: string; browserHash: string | null; flowId: string | null; now: Date; expiresAt: Date },
    caps: RecoveryCaps,
  ): Promise<boolean> {
    if (!this.#db.isTransaction) throw new Error('a recovery request takes a transaction (its caps are decided under a lock)');
    const { now } = request;
    await sql`select pg_advisory_xact_lock(hashtext(${'kapu.recovery:' + request.username}))`.execute(this.#db);
    const hourAgo = new Date(now.getTime() - 3600_000);
    const recent = (ip: boolean) => {
      const query = this.#db
        .selectFrom('recovery_request')
        .select((e) => e.fn.countAll<string>().as('n'))
        .where('username', '=', request.username)
        .where('created_at', '>', hourAgo);
      return ip ? query.where('ip_key', '=', request.ipKey) : query;
    };
    const standing = await this.#db
      .selectNoFrom(() => [recent(false).as('by_name'), recent(true).as('by_address')])
      .executeTakeFirstOrThrow();
    if (Number(standing.by_name) >= caps.perName || Number(standing.by_address) >= caps.perNameAndAddress) return false;
    await this.#db
      .insertInto('recovery_request')
      .values({
        id: request.id,
        kind: request.kind,
        username: request.username,
        account_id: request.accountId,
        ip_key: request.ipKey,
        tag: request.tag,
        secret_hash: request.secretHash,
        browser_hash: request.browserHash,
        flow_id: request.flowId,
        created_at: now,
        expires_at: request.expiresAt,
      })
      .execute();
    return true;
  }

  /**
   * An open request of `kind` (not used, not expired) with the account it names, if that account
   * is still active, and the account's factor kinds: one statement for any name.
   */
  async findOpen(id: string, kind: RecoveryKind, now: Date) {
    const row = await this.#db
      .selectFrom('recovery_request as r')
      .leftJoin('account as a', (join) => join.onRef('a.id', '=', 'r.account_id').on('a.disabled_at', 'is', null))
      .select(['r.id', 'r.username', 'a.id as account_id', 'a.username as account_username', 'a.name as account_name', 'a.email as account_email'])
      .select(factorKinds('a.id').as('factor_kinds'))
      .where('r.id', '=', id)
      .where('r.kind', '=', kind)
      .where('r.used_at', 'is', null)
      .where('r.expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    const account =
      row.account_id && row.account_username && row.account_name && row.account_email
        ? { id: row.account_id, username: row.account_username, name: row.account_name, email: row.account_email, factorKinds: row.factor_kinds }
        : null;
    return { id: row.id, username: row.username, account };
  }

  /**
   * Counts a try at a request's code, before the code is compared: its hash comes back only
   * while the request is open and has tries left (`maxAttempts`).
   */
  async countTry(id: string, now: Date, maxAttempts: number): Promise<{ secretHash: string; attempts: number } | undefined> {
    const row = await this.#db
      .updateTable('recovery_request')
      .set({ attempts: sql`attempts + 1` })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .where('attempts', '<', maxAttempts)
      .returning(['secret_hash', 'attempts'])
      .executeTakeFirst();
    return row && { secretHash: row.secret_hash, attempts: row.attempts };
  }

  /** Uses a request up; false when it already was. */
  async use(id: string, now: Date): Promise<boolean> {
    const result = await this.#db.updateTable('recovery_request').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Uses an unlock link, in one statement: open, its token's hash among `secretHashes`, asked
   * by the browser whose binding hashes to one of `browserHashes`, and naming an active account.
   * What it names comes back once; a wrong browser, a forged or stand-in link use nothing up.
   */
  async useLink(id: string, secretHashes: string[], browserHashes: string[], now: Date): Promise<{ accountId: string; username: string; flowId: string | null } | undefined> {
    const row = await this.#db
      .updateTable('recovery_request')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('kind', '=', 'unlock')
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .where('secret_hash', 'in', secretHashes)
      .where('browser_hash', 'in', browserHashes)
      .where((eb) => eb.exists(eb.selectFrom('account').select('account.id').whereRef('account.id', '=', 'recovery_request.account_id').where('account.disabled_at', 'is', null)))
      .returning(['account_id', 'username', 'flow_id'])
      .executeTakeFirst();
    return row?.account_id ? { accountId: row.account_id, username: row.username, flowId: row.flow_id } : undefined;
  }

  /** Requests expired before `before` (kept past expiry for as long as the hourly caps count them). */
  async deleteExpired(before: Date): Promise<number> {
    const result = await this.#db.deleteFrom('recovery_request').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
