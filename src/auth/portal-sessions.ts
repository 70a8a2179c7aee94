/**
 * Sessions of the account portal: opened when a portal sign-in finishes, ended by signing out,
 * by being idle, by their lifetime, or by a change that ends every other session (a new
 * password, "sign out everywhere"). The citizen's cookie holds a random token; the database
 * holds only its SHA-256, so a copy of the table opens nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorAccount } from '../factors/factor.ts';

/** A cookie's token: 32 random bytes, base64url. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface SessionTimes {
  /** A session unused this long is over. */
  idleSeconds: number;
  /** A session is over this long after sign-in, used or not. */
  lifetimeSeconds: number;
}

/** A live portal session: who is signed in, and the session's id (for "all but this one"). */
export interface PortalSession {
  id: string;
  account: FactorAccount & { factorKinds: string[] };
  signedInAt: Date;
}

export class PortalSessions {
  readonly #uow: UnitOfWork<Repos>;
  readonly #clock: Clock;
  readonly #times: SessionTimes;

  constructor(deps: { uow: UnitOfWork<Repos>; clock: Clock; times: SessionTimes }) {
    this.#uow = deps.uow;
    this.#clock = deps.clock;
    this.#times = deps.times;
  }

  get times(): SessionTimes {
    return this.#times;
  }

  /**
   * Opens a session for `accountId` in the caller's unit of work, as the portal sign-in `flowUid`
   * finishes; the session the browser had when that sign-in began ends in the same statement
   * (one browser, one portal session). Returns the cookie's token.
   */
  async open(r: Repos, accountId: string, from: { ip: string; browser: string | null }, flowUid: string): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + this.#times.lifetimeSeconds * 1000);
    await r.portalSessions.create({ id: sessionId(token), accountId, now, expiresAt, ip: from.ip, browser: from.browser, flowUid });
    return { token, expiresAt };
  }

  /** The stored id of the session a cookie's token names (null for no token or a malformed one). */
  idOf(token: string | undefined): string | null {
    return token && TOKEN.test(token) ? sessionId(token) : null;
  }

  /** The live session a cookie's token names (one statement, which also records the visit). */
  async resolve(token: string | undefined): Promise<PortalSession | null> {
    if (!token || !TOKEN.test(token)) return null;
    const now = this.#clock.now();
    const id = sessionId(token);
    const row = await this.#uow.repos.portalSessions.touch(id, now, new Date(now.getTime() - this.#times.idleSeconds * 1000));
    if (!row) return null;
    return {
      id,
      account: { id: row.id, username: row.username, name: row.name, email: row.email, factorKinds: row.factor_kinds },
      signedInAt: row.signed_in_at,
    };
  }

  async close(token: string | undefined): Promise<void> {
    if (token) await this.#uow.repos.portalSessions.remove(sessionId(token));
  }
}

export function sessionId(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
