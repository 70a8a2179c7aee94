/**
 * The one result and the one refusal of kapu's core: the sign-in steps (whose outcomes carry a
 * refusal), the portal's changes, enrollment and the DÁP device API all answer with these.
 * HTTP turns a refusal into a status in one table per surface (src/http/refusals.ts for pages,
 * the device API's own for its JSON codes).
 */
import type { Notice } from '../factors/context.ts';

/** Why a step was refused. */
export type Refusal =
  /** The form could not be an answer (missing or malformed fields): costs nothing. */
  | 'invalid_input'
  /** Wrong username or password (or a locked username: the same answer, on purpose); a bad signature. */
  | 'wrong_credentials'
  /** A wrong second-factor answer (or an answer for another account). */
  | 'wrong_answer'
  /** Too many failures: try again later. */
  | 'locked'
  /** A resend refused by the cool-down or the hourly cap; too many requests. */
  | 'rate_limited'
  /** A setup, change, link or challenge that is over (or never was): start again. */
  | 'expired'
  /** It names something that does not exist (a factor, a device, a challenge). */
  | 'unknown'
  /** It was done already (a setup's form sent again, a challenge decided). */
  | 'done';

/**
 * A refusal: why, and what the person is told. `code`: a stable machine-readable answer where
 * the caller is a program (the device API's `error`), with `detail` and `retryAfter` seconds.
 */
export interface Refused {
  ok: false;
  refusal: Refusal;
  notice: Notice;
  code?: string;
  detail?: Record<string, unknown>;
  retryAfter?: number;
}

/** A step's result: done, with what it gives back, or refused. */
export type Result<T = object> = ({ ok: true } & T) | Refused;

/** A refusal with its message (an error for the person). */
export function refuse(refusal: Refusal, key: string, vars?: Record<string, string | number>): Refused {
  return { ok: false, refusal, notice: { key, error: true, ...(vars && { vars }) } };
}
