/**
 * What a factor is given and gives back: the contexts it acts in (one sign-in, one enrollment,
 * one change), the account as it sees it, a message for the person, the outcome of a check,
 * and the page part it shows. Part of the factor contract (factor.ts re-exports it).
 */
import type { Who } from '../auth/who.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { LiveCode } from '../db/repositories/one-time-codes.ts';
import type { Lang } from '../views.ts';

export type FactorId = string;

/** A submitted form, as parsed from the request body. */
export type FormFields = Readonly<Record<string, unknown>>;

export interface FactorAccount {
  id: string;
  username: string;
  name: string;
  email: string;
}

/** What a factor gets when acting inside one sign-in or one enrollment. */
export interface FactorContext {
  /** The sign-in (interaction uid) or the enrollment that codes and challenges are bound to. */
  flowId: string;
  account: FactorAccount;
  lang: Lang;
  /** The unit of work's repositories. */
  repos: Repos;
  /** Who asked, for the words of a mail: the service (RP) signed into and the browser. */
  request?: MailRequest;
  /**
   * The sign-in's live one-time code (null: none), when the step's one read brought it along
   * (a page shown at a factor): a view shows it without reading it again. Undefined: not read.
   */
  signInCode?: LiveCode | null;
  /**
   * Who asks, when a sign-in step begins a factor (an approval on a phone shows it): their
   * address and browser, and the service (RP) signed into by name (null: kapu's own portal).
   */
  asking?: Pick<Who, 'ip' | 'browser'> & { client: string | null };
}

/** What a code mail says about the request behind it, so the citizen can tell it is theirs. */
export interface MailRequest {
  /** The RP's name (null: kapu's own account portal). */
  service: string | null;
  /** The browser in a few words ("Chrome 131, Linux"), if known. */
  browser: string | null;
}

/** A sign-in's context for a passwordless proof: before its answer, no account is known. */
export interface FlowContext extends Omit<FactorContext, 'account'> {
  account: FactorAccount | null;
}

/** An enrollment's context: what `enroll.begin` asked to keep, opened again. */
export interface EnrollContext extends FactorContext {
  kept: string | null;
}

/** A message for the person, as a locale key and its values. */
export interface Notice {
  key: string;
  /** Errors are shown as such (and read out first by screen readers). */
  error?: boolean;
  vars?: Record<string, string | number>;
}

/**
 * The outcome of checking what the person gave (a code, a setup's proof). `shownOnce`: what a
 * confirmed setup shows the person once and never again (the app's törlőkód). `accountId`: the
 * account a passwordless proof found. `amr`: what this very proof showed, when it depends on the
 * authenticator used (a WebAuthn key: a device-bound `hwk` or a synced `swk`, `user` when it verified
 * the user); without it the factor's `amr` stands. `refusal`: why an answer was refused, when the
 * factor can tell more than its notice says (a WebAuthn answer made on another origin: a
 * phishing signal), for the audit log only: a word, never a secret or a part of the answer.
 */
export type Verification =
  | { ok: true; shownOnce?: Record<string, string>; accountId?: string; amr?: readonly string[]; spend?: Spend }
  | { ok: false; notice: Notice; refusal?: string; spent?: true };

/**
 * A lock-free proof's right answer (`TypedProof.lockFree`), not yet used up: the one-time code it
 * matched (by id), used in the statement that ends the sign-in, and the account's factor (kind) it
 * proves, marked used there too. A refusal with `spent`: the answer was used up already, which
 * only the end of this very sign-in does (a double click): no guess, and the sign-in is over.
 */
export interface Spend {
  code: string;
  touch?: string;
}

/** Where an out-of-band challenge (an approval on a phone) stands. */
export type ChallengeStatus = 'pending' | 'approved' | 'refused' | 'expired';

/**
 * What collecting an out-of-band answer found: an approval (naming the account that gave it), or
 * where the challenge stands otherwise, with what the page should say. `pending` is no failure:
 * the page waits on.
 */
export type Collected = { status: 'approved'; accountId: string } | { status: Exclude<ChallengeStatus, 'approved'>; notice: Notice };

export interface FactorView {
  /** Template that renders the factor's part of the page. */
  template: string;
  data: Record<string, unknown>;
  /** What the page should say when the request brings no message of its own. */
  notice?: Notice;
  /** The page uses kapu's script (an out-of-band factor's waiting page asks for its status). */
  scripts?: boolean;
}
