/**
 * A second factor is a strategy behind this interface. The sign-in flow (src/interactions)
 * only ever talks to `Factor`: it never asks which kind it holds. Adding a factor (the DÁP
 * mobile app is next) means one new folder here and one line in `createFactors`.
 */
import type { Lang } from '../views.ts';

export type FactorId = string;

export interface FactorAccount {
  id: string;
  username: string;
  name: string;
  email: string;
}

/** What a factor gets when acting inside one sign-in (or, later, one enrollment). */
export interface FactorContext {
  /** The interaction uid: codes and challenges are bound to it. */
  flowId: string;
  account: FactorAccount;
  lang: Lang;
}

/** A message for the person, as a locale key and its values. */
export interface Notice {
  key: string;
  /** Errors are shown as such (and read out first by screen readers). */
  error?: boolean;
  vars?: Record<string, string | number>;
}

/**
 * `malformed`: the input could not be a code at all (wrong length, letters). It is not a
 * guess, so it costs no try and counts toward no throttle.
 * `usedInThisFlow`: the right answer, but a concurrent request of this same sign-in used it
 * first (a double click): that request is finishing the sign-in.
 */
export type VerifyOutcome = { ok: true } | { ok: false; error: Notice; malformed?: boolean; usedInThisFlow?: boolean };

export interface FactorPage {
  /** Template under views/ that renders the factor's part of the verify page. */
  template: string;
  data: Record<string, unknown>;
  /** What the page should say when the request brings no message of its own. */
  notice?: Notice;
}

export interface OperatorEnrollment {
  /** Shown once to the operator, e.g. the otpauth:// URI of a new TOTP secret. */
  secretForDisplay?: string;
}

export interface Factor {
  /** Stable id, stored in the database: 'email', 'totp'. */
  readonly id: FactorId;
  /** The `amr` value (RFC 8176 where one exists) this factor adds to the ID token. */
  readonly amr: string;
  /** Locale key of the factor's name (method chooser, factor choice). */
  readonly labelKey: string;
  /** Called when the flow switches to this factor: e.g. the emailed code is sent here. */
  begin(ctx: FactorContext): Promise<Notice | null>;
  /** Sends a fresh challenge on request; null when the factor has nothing to resend. */
  resend: ((ctx: FactorContext) => Promise<Notice>) | null;
  /** What the verify page shows for this factor. */
  page(ctx: FactorContext): Promise<FactorPage>;
  /** Checks what the person typed. Rules (attempts, single use, replay) live in the queries. */
  verify(ctx: FactorContext, input: string): Promise<VerifyOutcome>;
  /** An operator gives an account this factor (admin CLI). */
  enrollByOperator(account: FactorAccount): Promise<OperatorEnrollment>;
}

export class FactorRegistry {
  readonly #factors: Map<FactorId, Factor>;

  constructor(factors: Factor[]) {
    this.#factors = new Map(factors.map((f) => [f.id, f]));
  }

  get(id: string | null | undefined): Factor | undefined {
    return id ? this.#factors.get(id) : undefined;
  }

  all(): Factor[] {
    return [...this.#factors.values()];
  }

  /** The account's factors that kapu knows, in registry order. */
  pick(kinds: string[]): Factor[] {
    return this.all().filter((f) => kinds.includes(f.id));
  }
}

/** Six decimal digits, trimmed of spaces people paste in. */
export function normalizeCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? code : null;
}
