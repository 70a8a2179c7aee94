import type { Db } from '../database.ts';

/** Columns safe to hand around: never the password hash. */
const PUBLIC_COLUMNS = ['id', 'username', 'name', 'email', 'created_at'] as const;

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
      .returning(PUBLIC_COLUMNS)
      .executeTakeFirst();
  }

  async findById(id: string) {
    return this.#db.selectFrom('account').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  async findByUsername(username: string) {
    return this.#db
      .selectFrom('account')
      .select(PUBLIC_COLUMNS)
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  /** The one query that reads a password hash: for the password check only. */
  async findCredentials(username: string) {
    return this.#db
      .selectFrom('account')
      .select(['id', 'password_hash'])
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  async updatePasswordHash(id: string, passwordHash: string, now: Date): Promise<void> {
    await this.#db.updateTable('account').set({ password_hash: passwordHash, updated_at: now }).where('id', '=', id).execute();
  }

  async list(limit = 1000) {
    return this.#db.selectFrom('account').select(PUBLIC_COLUMNS).orderBy('username').limit(limit).execute();
  }
}

export function normalizeUsername(username: string): string {
  return username.trim().normalize('NFC').toLowerCase();
}
