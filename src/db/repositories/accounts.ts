import { sql } from 'kysely';
import type { Db } from '../database.ts';

/** Columns safe to hand around: never the password hash. */
export const ACCOUNT_COLUMNS = ['id', 'username', 'name', 'email', 'created_at'] as const;

export class AccountsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async create(account: { id: string; username: string; name: string; email: string; passwordHash: string; now: Date }) {
    return this.#db
      .insertInto('account')
      .values({
        id: account.id,
        username: normalizeUsername(account.username),
        name: account.name,
        email: account.email,
        password_hash: account.passwordHash,
        created_at: account.now,
        updated_at: account.now,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .returning(ACCOUNT_COLUMNS)
      .executeTakeFirst();
  }

  async findById(id: string) {
    return this.#db.selectFrom('account').select(ACCOUNT_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  /**
   * The account and the kinds of factor it has (oldest first), in one query: what the provider
   * asks for a token's or session's subject. A disabled account is not found.
   */
  async findWithFactorKinds(id: string) {
    return this.#db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .select(factorKinds('account.id').as('factor_kinds'))
      .where('id', '=', id)
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
  }

  async findByUsername(username: string) {
    return this.#db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  /** The account a username names, unless it is disabled: what a citizen's own request may reach. */
  async findActiveByUsername(username: string) {
    return this.#db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .where('username', '=', normalizeUsername(username))
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
  }

  /**
   * What removing the app with its törlőkód checks, by username, in one query (the same work
   * for a name that matches no account): the password hash and the törlőkód hash of the
   * account's factor `kind`.
   */
  async recoveryCredentials(username: string, kind: string) {
    return this.#db
      .selectFrom('account')
      .leftJoin('factor', (join) => join.onRef('factor.account_id', '=', 'account.id').on('factor.kind', '=', kind))
      .select(['account.id', 'account.password_hash', 'factor.recovery_hash'])
      .where('account.username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  /** An account's password hash, to check a password typed again before a change. */
  async passwordHashOf(id: string): Promise<string | undefined> {
    return (await this.#db.selectFrom('account').select('password_hash').where('id', '=', id).executeTakeFirst())?.password_hash;
  }

  async updateEmail(id: string, email: string, now: Date): Promise<void> {
    await this.#db.updateTable('account').set({ email, updated_at: now }).where('id', '=', id).execute();
  }

  async updatePasswordHash(id: string, passwordHash: string, now: Date): Promise<void> {
    await this.#db.updateTable('account').set({ password_hash: passwordHash, updated_at: now }).where('id', '=', id).execute();
  }

  async list(limit = 1000) {
    return this.#db.selectFrom('account').select(ACCOUNT_COLUMNS).orderBy('username').limit(limit).execute();
  }

  /**
   * A page of accounts for operators, in username order: `after` is the last username of the
   * previous page (keyset paging: stable while accounts are added). `search` matches a part of
   * the username, name or email, case-insensitively.
   */
  async page(filter: { search?: string; disabled?: boolean; factor?: string; after?: string; limit: number }) {
    let query = this.#db
      .selectFrom('account')
      .select([...ACCOUNT_COLUMNS, 'disabled_at'])
      .select(factorKinds('account.id').as('factor_kinds'))
      .orderBy('username')
      .limit(filter.limit);
    if (filter.search) {
      const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where((eb) => eb.or([eb('username', 'ilike', pattern), eb('name', 'ilike', pattern), eb('email', 'ilike', pattern)]));
    }
    if (filter.disabled !== undefined) query = query.where('disabled_at', filter.disabled ? 'is not' : 'is', null);
    if (filter.factor === 'none') query = query.where(sql<boolean>`not exists (select 1 from factor f where f.account_id = account.id)`);
    else if (filter.factor) query = query.where(sql<boolean>`exists (select 1 from factor f where f.account_id = account.id and f.kind = ${filter.factor})`);
    if (filter.after) query = query.where('username', '>', normalizeUsername(filter.after));
    return query.execute();
  }

  /** One account for an operator: with its state and factors (never the password hash). */
  async detailByUsername(username: string) {
    return this.#db
      .selectFrom('account')
      .select([...ACCOUNT_COLUMNS, 'disabled_at', 'updated_at'])
      .select(factorKinds('account.id').as('factor_kinds'))
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  /** Disables (a date) or enables (null) an account; false when it was already so. */
  async setDisabled(id: string, disabledAt: Date | null, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('account')
      .set({ disabled_at: disabledAt, updated_at: now })
      .where('id', '=', id)
      .where('disabled_at', disabledAt ? 'is' : 'is not', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Deletes an account; its factors, codes, flows and sessions go with it (foreign keys). */
  async remove(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('account').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Bulk import: inserts the accounts whose username is free, in one statement; returns the
   * usernames inserted (taken ones are skipped, so a re-run adds only what is missing).
   */
  async createMany(accounts: Array<{ id: string; username: string; name: string; email: string; passwordHash: string }>, now: Date) {
    if (accounts.length === 0) return [];
    const rows = await this.#db
      .insertInto('account')
      .values(
        accounts.map((a) => ({
          id: a.id,
          username: normalizeUsername(a.username),
          name: a.name,
          email: a.email,
          password_hash: a.passwordHash,
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.column('username').doNothing())
      .returning(['id', 'username'])
      .execute();
    return rows;
  }
}

/** The kinds of factor of the account whose id is in `column`, oldest first, as an array. */
export function factorKinds(column: string) {
  return sql<string[]>`array(select f.kind from factor f where f.account_id = ${sql.ref(column)} order by f.created_at)`;
}

export function normalizeUsername(username: string): string {
  return username.trim().normalize('NFC').toLowerCase();
}
