/** The one table from the core's refusals to HTTP statuses, for the sign-in pages and the portal. */
import type { Refusal } from '../auth/result.ts';

export const REFUSAL_STATUS: Record<Refusal, number> = {
  invalid_input: 400,
  wrong_credentials: 401,
  wrong_answer: 401,
  locked: 429,
  rate_limited: 429,
  /** A setup or change that is over (or never was): start again. */
  expired: 410,
  unknown: 400,
  /** Done already (a form sent again): nothing more to do. */
  done: 409,
};
