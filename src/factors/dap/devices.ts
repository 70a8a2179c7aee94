/**
 * The phone's side of the DÁP method, HTTP-free: what the device API (/api/device/v1, thin
 * adapters in routes.ts beside it) calls. Every answer is kapu's one `Result`: a value, or a
 * refusal with its HTTP status and a stable error code the app can act on.
 *
 * The checks, in order, for a decision: the device exists and is not locked; the signature
 * verifies against its registered key over the exact bytes kapu rebuilds from what it stored
 * (so a signature for another challenge, sign-in, number or kapu never does); the challenge is
 * still pending and alive (a replay finds it decided); it is for this device's account; the
 * PIN (argon2id, counted: five wrong in a row lock the device until it is enrolled again);
 * the number the citizen tapped (a wrong one refuses the challenge: no second guess). The
 * signature comes first, so nobody without the device key can spend its PIN tries.
 *
 * Throttling: every request naming a device counts on that device (a rate: at most 30 a
 * minute in a row); every request counts on the client address before it is checked and is
 * taken back when it succeeds (failures only, generous: many phones share an address).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Refusal, Refused, Result } from '../../auth/result.ts';
import type { Who } from '../../auth/who.ts';
import type { Clock, Random } from '../../clock.ts';
import type { AuditEvent } from '../../db/repositories/audit.ts';
import type { Repos } from '../../db/repositories/index.ts';
import type { Counted, CountRule } from '../../db/repositories/throttle.ts';
import type { UnitOfWork } from '../../db/unit-of-work.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type { PasswordHasher } from '../../security/passwords.ts';
import { AAD, type SecretBox } from '../../security/secret-box.ts';
import { networkOf } from '../../security/networks.ts';
import { ipKey } from '../../security/throttle.ts';
import type { Lang } from '../../views.ts';
import { DAP_FACTOR_ID, DAP_REPOSITORY } from './repository.ts';
import { decisionMessage, enrollMessage, parseDeviceJwk, verifySignature } from './protocol.ts';

/** Wrong PINs in a row that lock a device. */
export const PIN_MAX_FAILURES = 5;
export const PIN_PATTERN = /^\d{6}$/;
const NAME_MAX_LENGTH = 60;
const ID = /^[0-9a-f-]{36}$/;

/** What the device API answers: a value, or a refusal whose `code` is the API's stable `error`. */
export type ApiResult<T> = Result<{ value: T }>;

export interface DeviceServiceDeps {
  uow: UnitOfWork<Repos>;
  box: SecretBox;
  passwords: PasswordHasher;
  mailer: Mailer;
  clock: Clock;
  random: Random;
  origin: string;
}


const HARD_LOCK = new Date('9999-12-31T00:00:00Z');
/** Requests per device: a phone makes two or three per sign-in. */
const DEVICE_RULE = { windowSeconds: 60, free: 30 };
/** Failed requests per address (NAT: generous). */
const IP_RULE = { windowSeconds: 15 * 60, free: 100 };

/** A refusal of the device API: its kind, and its stable code (the `error` the app acts on). No page shows its notice. */
const refuse = (refusal: Refusal, code: string, detail?: Record<string, unknown>): Refused => ({
  ok: false,
  refusal,
  code,
  notice: { key: `device.${code}`, error: true },
  ...(detail && { detail }),
});

const BAD_REQUEST = refuse('invalid_input', 'invalid_request');
/** One answer for an unknown, used, expired or forged enrollment link. */
const ENROLLMENT_GONE = refuse('expired', 'enrollment_invalid');
const UNKNOWN_DEVICE = refuse('unknown', 'unknown_device');
const UNKNOWN_CHALLENGE = refuse('unknown', 'unknown_challenge');
const DEVICE_LOCKED = refuse('locked', 'device_locked');
const BAD_SIGNATURE = refuse('wrong_credentials', 'bad_signature');
const CHALLENGE_DECIDED = refuse('done', 'challenge_decided');
const CHALLENGE_EXPIRED = refuse('expired', 'challenge_expired');
const WRONG_ACCOUNT = refuse('wrong_answer', 'wrong_account');

type Body = Record<string, unknown>;

export class DeviceService {
  readonly #deps: DeviceServiceDeps;

  constructor(deps: DeviceServiceDeps) {
    this.#deps = deps;
  }

  /** A phone registers its public key and its PIN with a one-time enrollment link. */
  enroll(body: Body, caller: Who): Promise<ApiResult<{ device: { id: string; name: string }; account: { name: string } }>> {
    return this.#throttled(caller, null, async () => {
      const token = typeof body['token'] === 'string' && body['token'].length <= 200 ? body['token'] : '';
      const [enrollmentId, secret] = token.split('.');
      const name = typeof body['name'] === 'string' ? body['name'].trim().replace(/[\p{C}]/gu, '') : '';
      const publicKey = parseDeviceJwk(body['publicKey']);
      const pin = body['pin'];
      if (!enrollmentId || !secret || !ID.test(enrollmentId) || !publicKey || !name || name.length > NAME_MAX_LENGTH || typeof pin !== 'string') return BAD_REQUEST;
      if (!PIN_PATTERN.test(pin)) return refuse('invalid_input', 'invalid_pin');
      const { uow, clock, passwords } = this.#deps;
      if (!this.#tokenMatches(await uow.repos.of(DAP_REPOSITORY).peekEnrollment(enrollmentId, clock.now()), enrollmentId, secret)) return ENROLLMENT_GONE;
      // Proof that the phone holds the key it registers.
      if (!verifySignature(publicKey, enrollMessage(this.#deps.origin, token), body['signature'])) return BAD_SIGNATURE;
      const pinHash = await passwords.hash(pin);
      return uow.transaction(async (r) => {
        const now = clock.now();
        const open = await r.of(DAP_REPOSITORY).openEnrollment(enrollmentId, now);
        if (!open || !this.#tokenMatches(open, enrollmentId, secret)) return ENROLLMENT_GONE;
        const id = this.#deps.random.uuid();
        if (!(await r.of(DAP_REPOSITORY).addDevice({ id, accountId: open.account_id, enrollmentId, name, publicKey: JSON.stringify(publicKey), pinHash, now }))) return ENROLLMENT_GONE;
        await r.audit.record({ type: 'factor.enrolled', accountId: open.account_id, ip: caller.ip, detail: { factor: DAP_FACTOR_ID, device: name, by: 'citizen' } }, now);
        await this.#notify(r, { name: open.account_name, email: open.account_email }, caller.lang, 'mail.dap_added', name, now);
        return { ok: true, value: { device: { id, name }, account: { name: open.account_name } } };
      });
    });
  }

  /** What the phone shows before the citizen decides: who asks, from where, three numbers. */
  challenge(challengeId: string, deviceId: unknown, caller: Who) {
    return this.#throttled(caller, deviceId, async () => {
      const found = await this.#load(challengeId, deviceId);
      if (!found.ok) return found;
      const { device, challenge } = found.value;
      const open = this.#open(challenge, device);
      if (open) return open;
      const numbers = [challenge.number, ...challenge.decoys.split(',')].sort();
      return {
        ok: true as const,
        value: {
          challengeId: challenge.id,
          origin: this.#deps.origin,
          interaction: challenge.flow_id,
          nonce: challenge.nonce,
          numbers,
          client: challenge.client,
          browser: challenge.browser,
          ...place(challenge.ip),
          createdAt: challenge.created_at.toISOString(),
          expiresAt: challenge.expires_at.toISOString(),
        },
      };
    });
  }

  /** The citizen approves: the number tapped, the PIN, the device's signature. */
  approve(challengeId: string, body: Body, caller: Who): Promise<ApiResult<{ status: 'approved' }>> {
    return this.#throttled(caller, body['deviceId'], async () => {
      const number = body['number'];
      const pin = body['pin'];
      if (typeof number !== 'string' || !/^\d{3}$/.test(number) || typeof pin !== 'string' || pin.length > 32) return BAD_REQUEST;
      const found = await this.#load(challengeId, body['deviceId']);
      if (!found.ok) return found;
      const { device, challenge } = found.value;
      const message = decisionMessage('approve', { origin: this.#deps.origin, challengeId: challenge.id, nonce: challenge.nonce, interaction: challenge.flow_id, number });
      if (!verifySignature(device.public_key, message, body['signature'])) return BAD_SIGNATURE;
      const open = this.#open(challenge, device);
      if (open) return open;
      const { uow, clock, passwords } = this.#deps;
      const pinOk = PIN_PATTERN.test(pin) && (await passwords.verify(device.pin_hash, pin)).ok;
      return uow.transaction(async (r) => {
        const now = clock.now();
        if (!pinOk) {
          const counted = await r.of(DAP_REPOSITORY).pinFailed(device.id, PIN_MAX_FAILURES, now);
          const detail = { factor: DAP_FACTOR_ID, reason: 'wrong_pin', device: device.name };
          const events: AuditEvent[] = [{ type: 'signin.factor_failed', accountId: device.account_id, ip: caller.ip, detail }];
          if (counted.locked) events.push({ type: 'signin.locked', accountId: device.account_id, ip: caller.ip, detail });
          await r.audit.record(events, now);
          return counted.locked ? DEVICE_LOCKED : refuse('wrong_credentials', 'wrong_pin', { attemptsLeft: PIN_MAX_FAILURES - counted.failures });
        }
        if (!(await r.of(DAP_REPOSITORY).pinOk(device.id, now))) return DEVICE_LOCKED;
        if (number !== challenge.number) {
          // A wrong number is no second guess: the challenge is refused (the browser says so).
          await r.of(DAP_REPOSITORY).decide(challenge.id, device.id, 'refused', now);
          await r.audit.record({ type: 'signin.factor_failed', accountId: device.account_id, ip: caller.ip, detail: { factor: DAP_FACTOR_ID, reason: 'wrong_number', device: device.name } }, now);
          return refuse('wrong_answer', 'wrong_number');
        }
        return (await r.of(DAP_REPOSITORY).decide(challenge.id, device.id, 'approved', now)) ? { ok: true, value: { status: 'approved' as const } } : CHALLENGE_DECIDED;
      });
    });
  }

  /** The citizen says it was not them: the waiting browser is told at once. */
  refuse(challengeId: string, body: Body, caller: Who): Promise<ApiResult<{ status: 'refused' }>> {
    return this.#throttled(caller, body['deviceId'], async () => {
      const found = await this.#load(challengeId, body['deviceId']);
      if (!found.ok) return found;
      const { device, challenge } = found.value;
      const message = decisionMessage('refuse', { origin: this.#deps.origin, challengeId: challenge.id, nonce: challenge.nonce, interaction: challenge.flow_id, number: '' });
      if (!verifySignature(device.public_key, message, body['signature'])) return BAD_SIGNATURE;
      const open = this.#open(challenge, device);
      if (open) return open;
      const now = this.#deps.clock.now();
      return (await this.#deps.uow.repos.of(DAP_REPOSITORY).decide(challenge.id, device.id, 'refused', now)) ? { ok: true, value: { status: 'refused' as const } } : CHALLENGE_DECIDED;
    });
  }

  // ---------------------------------------------------------------------------------------

  #tokenMatches(open: { secret_sealed: string | null } | undefined, enrollmentId: string, secret: string): boolean {
    if (!open?.secret_sealed) return false;
    const kept = Buffer.from(this.#deps.box.openText(open.secret_sealed, AAD.enrollmentSecret(enrollmentId)));
    const given = Buffer.from(secret);
    return kept.length === given.length && timingSafeEqual(kept, given);
  }

  async #load(challengeId: string, deviceId: unknown) {
    if (typeof deviceId !== 'string' || !ID.test(deviceId)) return BAD_REQUEST;
    if (!ID.test(challengeId)) return UNKNOWN_CHALLENGE;
    const dap = this.#deps.uow.repos.of(DAP_REPOSITORY);
    const [device, challenge] = await Promise.all([dap.device(deviceId), dap.challenge(challengeId)]);
    if (!device) return UNKNOWN_DEVICE;
    if (device.locked_at) return DEVICE_LOCKED;
    if (!challenge) return UNKNOWN_CHALLENGE;
    return { ok: true as const, value: { device, challenge } };
  }

  /** The refusal for a challenge this device may not decide now, or null. */
  #open(challenge: { status: string; expires_at: Date; account_id: string | null }, device: { account_id: string }) {
    if (challenge.status !== 'pending') return CHALLENGE_DECIDED;
    if (challenge.expires_at <= this.#deps.clock.now()) return CHALLENGE_EXPIRED;
    if (challenge.account_id !== null && challenge.account_id !== device.account_id) return WRONG_ACCOUNT;
    return null;
  }

  /**
   * Counts the request on its device (every request) and on the client address (taken back
   * when it succeeds), then runs it; a locked key refuses it unchecked.
   */
  async #throttled<T>(caller: Who, deviceId: unknown, run: () => Promise<ApiResult<T>>): Promise<ApiResult<T>> {
    const { throttle } = this.#deps.uow.repos;
    const now = this.#deps.clock.now();
    const keys = [{ key: `dap-${ipKey(caller.ip)}`, rule: rule(IP_RULE, now) }];
    if (typeof deviceId === 'string' && ID.test(deviceId)) keys.push({ key: `dap-device:${deviceId}`, rule: rule(DEVICE_RULE, now) });
    const counted: Counted[] = await throttle.admit(keys, now);
    if (counted.length < keys.length) {
      if (counted.length > 0) await throttle.settle([], counted);
      const until = await throttle.lockedUntil(keys.map((k) => k.key), now);
      return { ...refuse('rate_limited', 'throttled'), retryAfter: until ? Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) : 60 };
    }
    const result = await run();
    if (result.ok) await throttle.settle([], counted.filter((c) => c.key.startsWith('dap-ip')));
    return result;
  }

  async #notify(r: Repos, account: { name: string; email: string }, lang: Lang, key: string, device: string, now: Date): Promise<void> {
    const { mailer } = this.#deps;
    await mailer.queue(r.outbox, mailer.notice(account.email, lang, { key, name: account.name, vars: { device } }), now);
  }
}

function rule(r: { windowSeconds: number; free: number }, now: Date): CountRule {
  return { windowStart: new Date(now.getTime() - r.windowSeconds * 1000), freeFailures: r.free, baseLockSeconds: 30, maxLockSeconds: 15 * 60, maxConsecutive: null, hardLockUntil: HARD_LOCK };
}

/**
 * Where the browser is, roughly, without a location database: its network in standard notation
 * (`place`), or `local` for loopback and private addresses, which name no place.
 */
function place(ip: string | null): { place: string | null; local: boolean } {
  const network = networkOf(ip);
  return { place: network && !network.local ? network.network : null, local: network?.local === true };
}
