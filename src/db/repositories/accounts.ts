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

  /** The account and the kinds of factor it has (oldest first), in one query. */
  async findWithFactorKinds(id: string) {
    return this.#db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .select(factorKinds('account.id').as('factor_kinds'))
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async findByUsername(username: string) {
    return this.#db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  /**
   * What removing the app with its törlőkód checks, by username, in one query (the same work
   * for a name that matches no account): the password hash and the app's törlőkód hash.
   */
  async recoveryCredentials(username: string) {
    return this.#db
      .selectFrom('account')
      .leftJoin('factor', (join) => join.onRef('factor.account_id', '=', 'account.id').on('factor.kind', '=', 'totp'))
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
}

/** The kinds of factor of the account whose id is in `column`, oldest first, as an array. */
export function factorKinds(column: string) {
  return sql<string[]>`array(select f.kind from factor f where f.account_id = ${sql.ref(column)} order by f.created_at)`;
}

export function normalizeUsername(username: string): string {
  return username.trim().normalize('NFC').toLowerCase();
}
