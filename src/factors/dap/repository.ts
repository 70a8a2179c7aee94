import { type Generated, type Kysely, sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { repositoryKey } from '../../db/repositories/index.ts';
import type { Database, Timestamp } from '../../db/schema.ts';
import type { InTransaction } from '../../db/unit-of-work.ts';

/** A phone enrolled for the DÁP method: its public key and its PIN's hash (SPEC §8). */
type DapDeviceTable = {
  id: string;
  account_id: string;
  enrollment_id: string;
  name: string;
  public_key: string;
  pin_hash: string;
  pin_failures: Generated<number>;
  locked_at: Timestamp | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
};

/** A sign-in waiting for an approval on a phone. */
type DapChallengeTable = {
  id: string;
  flow_id: string;
  account_id: string | null;
  nonce: string;
  number: string;
  decoys: string;
  client: string | null;
  browser: string | null;
  ip: string | null;
  status: 'pending' | 'approved' | 'refused' | 'superseded' | 'used';
  device_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  decided_at: Timestamp | null;
};

/** The DÁP method's own tables (its migration makes them), beside kapu's. */
type DapTables = {
  dap_device: DapDeviceTable;
  dap_challenge: DapChallengeTable;
};

/** The DÁP factor's id (in the `factor` table: the account has it while it has a device). */
export const DAP_FACTOR_ID = 'dap';
const DAP_KIND = DAP_FACTOR_ID;

/**
 * The DÁP method's devices and challenges (SPEC §8). The rules are in the queries: a device
 * is enrolled once per enrollment (unique), a PIN failure is counted and locks in one
 * statement, a challenge is decided once (`where status = 'pending'`) and collected once
 * (`where status = 'approved'`), only while its device is still enrolled and unlocked.
 */
export class DapRepository {
  readonly #db: Kysely<Database & DapTables>;
  constructor(db: Db) {
    this.#db = db.withTables<DapTables>();
  }

  // ---- devices

  /** Enrolls a device; false when the enrollment already has one (a link used twice). */
  async addDevice(d: { id: string; accountId: string; enrollmentId: string; name: string; publicKey: string; pinHash: string; now: Date }): Promise<boolean> {
    const inserted = await this.#db
      .insertInto('dap_device')
      .values({ id: d.id, account_id: d.accountId, enrollment_id: d.enrollmentId, name: d.name, public_key: d.publicKey, pin_hash: d.pinHash, created_at: d.now, last_used_at: null, locked_at: null })
      .onConflict((oc) => oc.column('enrollment_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return false;
    await this.#db
      .insertInto('factor')
      .values({ id: d.id, account_id: d.accountId, kind: DAP_KIND, secret_sealed: null, last_time_step: null, created_at: d.now, last_used_at: null })
      .onConflict((oc) => oc.columns(['account_id', 'kind']).doNothing())
      .execute();
    return true;
  }

  /** A DÁP enrollment while it is open (not confirmed, not expired), locked, with its account. */
  async openEnrollment(this: InTransaction<DapRepository>, id: string, now: Date) {
    return this.#enrollment(id, now).forUpdate('enrollment').executeTakeFirst();
  }

  /** The same, unlocked: a look before a unit of work, which reads it again with `openEnrollment`. */
  async peekEnrollment(id: string, now: Date) {
    return this.#enrollment(id, now).executeTakeFirst();
  }

  #enrollment(id: string, now: Date) {
    return this.#db
      .selectFrom('enrollment')
      .innerJoin('account', 'account.id', 'enrollment.account_id')
      .select(['enrollment.id', 'enrollment.account_id', 'enrollment.secret_sealed', 'account.name as account_name', 'account.email as account_email'])
      .where('enrollment.id', '=', id)
      .where('enrollment.factor', '=', DAP_KIND)
      .where('enrollment.confirmed_at', 'is', null)
      .where('enrollment.expires_at', '>', now);
  }

  async devices(accountId: string) {
    return this.#db
      .selectFrom('dap_device')
      .select(['id', 'name', 'created_at', 'last_used_at', 'locked_at'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
  }

  /** A device as the protocol checks it (its key, its PIN's hash, its lock). */
  async device(id: string) {
    return this.#db
      .selectFrom('dap_device')
      .innerJoin('account', 'account.id', 'dap_device.account_id')
      .select(['dap_device.id', 'dap_device.account_id', 'dap_device.name', 'dap_device.public_key', 'dap_device.pin_hash', 'dap_device.pin_failures', 'dap_device.locked_at', 'account.name as account_name', 'account.email as account_email'])
      .where('dap_device.id', '=', id)
      .executeTakeFirst();
  }

  async deviceOfEnrollment(enrollmentId: string, accountId: string) {
    return this.#db.selectFrom('dap_device').select(['id', 'name']).where('enrollment_id', '=', enrollmentId).where('account_id', '=', accountId).executeTakeFirst();
  }

  /**
   * A wrong PIN, counted in one statement: the device locks on the `max`-th in a row.
   * Returns the failures in a row and whether the device is now locked.
   */
  async pinFailed(id: string, max: number, now: Date): Promise<{ failures: number; locked: boolean }> {
    const row = await this.#db
      .updateTable('dap_device')
      .set({ pin_failures: sql`pin_failures + 1`, locked_at: sql`case when pin_failures + 1 >= ${max} then ${now}::timestamptz else locked_at end` })
      .where('id', '=', id)
      .where('locked_at', 'is', null)
      .returning(['pin_failures', 'locked_at'])
      .executeTakeFirst();
    return row ? { failures: row.pin_failures, locked: row.locked_at !== null } : { failures: max, locked: true };
  }

  /** A right PIN: the count in a row starts again (only while the device is not locked). */
  async pinOk(id: string, now: Date): Promise<boolean> {
    const result = await this.#db.updateTable('dap_device').set({ pin_failures: 0, last_used_at: now }).where('id', '=', id).where('locked_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Removes one of the account's devices (all of them without `deviceId`); what they approved
   * and no browser has collected yet is refused at once. The account loses the factor with its
   * last device, and then the challenges still waiting for one of its phones are refused too.
   * Returns how many devices were removed.
   */
  async removeDevices(accountId: string, deviceId?: string): Promise<number> {
    let devices = this.#db.selectFrom('dap_device').select('id').where('account_id', '=', accountId);
    if (deviceId) devices = devices.where('id', '=', deviceId);
    await this.#db.updateTable('dap_challenge').set({ status: 'refused' }).where('status', '=', 'approved').where('device_id', 'in', devices).execute();
    let removal = this.#db.deleteFrom('dap_device').where('account_id', '=', accountId);
    if (deviceId) removal = removal.where('id', '=', deviceId);
    const removed = Number((await removal.executeTakeFirst()).numDeletedRows);
    await this.#db
      .deleteFrom('factor')
      .where('account_id', '=', accountId)
      .where('kind', '=', DAP_KIND)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('dap_device').select('dap_device.id').where('dap_device.account_id', '=', accountId))))
      .execute();
    await this.#db
      .updateTable('dap_challenge')
      .set({ status: 'refused' })
      .where('account_id', '=', accountId)
      .where('status', '=', 'pending')
      .where((eb) => eb.not(eb.exists(eb.selectFrom('dap_device').select('dap_device.id').where('dap_device.account_id', '=', accountId))))
      .execute();
    return removed;
  }

  // ---- challenges

  /** The newest challenge of a sign-in. */
  async latest(flowId: string) {
    return this.#db
      .selectFrom('dap_challenge')
      .select(['id', 'status', 'number', 'expires_at', 'account_id'])
      .where('flow_id', '=', flowId)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** A new challenge for a sign-in; what that sign-in was still waiting on is superseded. */
  async createChallenge(c: {
    id: string;
    flowId: string;
    accountId: string | null;
    nonce: string;
    number: string;
    decoys: string[];
    client: string | null;
    browser: string | null;
    ip: string | null;
    now: Date;
    expiresAt: Date;
  }): Promise<void> {
    await this.#db.updateTable('dap_challenge').set({ status: 'superseded' }).where('flow_id', '=', c.flowId).where('status', 'in', ['pending', 'approved']).execute();
    await this.#db
      .insertInto('dap_challenge')
      .values({
        id: c.id,
        flow_id: c.flowId,
        account_id: c.accountId,
        nonce: c.nonce,
        number: c.number,
        decoys: c.decoys.join(','),
        client: c.client,
        browser: c.browser,
        ip: c.ip,
        status: 'pending',
        device_id: null,
        created_at: c.now,
        expires_at: c.expiresAt,
        decided_at: null,
      })
      .execute();
  }

  async challenge(id: string) {
    return this.#db
      .selectFrom('dap_challenge')
      .select(['id', 'flow_id', 'account_id', 'nonce', 'number', 'decoys', 'client', 'browser', 'ip', 'status', 'device_id', 'created_at', 'expires_at'])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The phone's decision, once, while the challenge is pending and alive. */
  async decide(id: string, deviceId: string, status: 'approved' | 'refused', now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('dap_challenge')
      .set({ status, device_id: deviceId, decided_at: now })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * The browser collects its sign-in's approval, once: the newest challenge of the flow,
   * approved since `approvedSince` by a device that is still enrolled and unlocked (of
   * `accountId` when the sign-in knows its account). Returns the device and its account.
   */
  async collect(flowId: string, accountId: string | null, approvedSince: Date) {
    const row = await this.#db
      .updateTable('dap_challenge')
      .set({ status: 'used' })
      .where('flow_id', '=', flowId)
      .where('status', '=', 'approved')
      .where('decided_at', '>', approvedSince)
      .where((eb) => {
        let approver = eb.selectFrom('dap_device').select('dap_device.id').whereRef('dap_device.id', '=', 'dap_challenge.device_id').where('dap_device.locked_at', 'is', null);
        if (accountId) approver = approver.where('dap_device.account_id', '=', accountId);
        return eb.exists(approver);
      })
      .returning((eb) => ['device_id', eb.selectFrom('dap_device').select('dap_device.account_id').whereRef('dap_device.id', '=', 'dap_challenge.device_id').as('account_id')])
      .executeTakeFirst();
    return row?.device_id && row.account_id ? { deviceId: row.device_id, accountId: row.account_id } : undefined;
  }

  async touchFactor(accountId: string, now: Date): Promise<void> {
    await this.#db.updateTable('factor').set({ last_used_at: now }).where('account_id', '=', accountId).where('kind', '=', DAP_KIND).execute();
  }

  async deleteExpired(before: Date): Promise<number> {
    const result = await this.#db.deleteFrom('dap_challenge').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The repository over a unit of work's handle: `repos.of(DAP_REPOSITORY)`. */
export const DAP_REPOSITORY = repositoryKey((db) => new DapRepository(db));
