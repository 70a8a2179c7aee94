import type { Db } from '../database.ts';

/**
 * A sign-in's own state, keyed by the oidc-provider interaction uid:
 *   choose_method → password → (choose_factor ⇄ factor) | upgrade; → done when finished
 * Transitions name the state they expect, so a stale or replayed form cannot skip a step.
 */
export type FlowState = 'choose_method' | 'password' | 'choose_factor' | 'factor' | 'upgrade' | 'done';

export interface LoginFlow {
  uid: string;
  state: FlowState;
  method: string | null;
  accountId: string | null;
  factor: string | null;
}

export class LoginFlowsRepository {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  /** The flow of an interaction, created in `choose_method` on first sight. */
  async open(uid: string, now: Date, expiresAt: Date): Promise<LoginFlow> {
    await this.#db
      .insertInto('login_flow')
      .values({ uid, state: 'choose_method', created_at: now, updated_at: now, expires_at: expiresAt })
      .onConflict((oc) => oc.column('uid').doNothing())
      .execute();
    const row = await this.#db
      .selectFrom('login_flow')
      .select(['uid', 'state', 'method', 'account_id', 'factor'])
      .where('uid', '=', uid)
      .executeTakeFirstOrThrow();
    return { uid: row.uid, state: row.state as FlowState, method: row.method, accountId: row.account_id, factor: row.factor };
  }

  /**
   * Moves the flow from one of `from` to `to`; false when the flow was not in such a state
   * (a concurrent request moved it first).
   */
  async transition(
    uid: string,
    from: FlowState[],
    to: { state: FlowState; method?: string | null; accountId?: string | null; factor?: string | null },
    now: Date,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('login_flow')
      .set({
        state: to.state,
        ...(to.method !== undefined && { method: to.method }),
        ...(to.accountId !== undefined && { account_id: to.accountId }),
        ...(to.factor !== undefined && { factor: to.factor }),
        updated_at: now,
      })
      .where('uid', '=', uid)
      .where('state', 'in', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async state(uid: string): Promise<FlowState | undefined> {
    const row = await this.#db.selectFrom('login_flow').select('state').where('uid', '=', uid).executeTakeFirst();
    return row?.state as FlowState | undefined;
  }

  async remove(uid: string): Promise<void> {
    await this.#db.deleteFrom('login_flow').where('uid', '=', uid).execute();
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('login_flow').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
