/**
 * A second factor is a strategy behind this contract. The sign-in core (src/auth) and, later,
 * the portal and the phone app's API only ever talk to `Factor`: they never ask which kind they
 * hold. Adding a factor (the DÁP mobile app is next) is one new folder here and one line in
 * src/factors/index.ts.
 *
 * A factor serves both sign-in (begin → verify, or begin → status for an out-of-band factor)
 * and settings (enroll.begin → enroll.confirm, remove), as kratos's strategies serve login and
 * settings. Every method runs inside the caller's unit of work, on `ctx.repos`: what a factor
 * writes commits or rolls back with the step that asked for it. Rules (attempts, single use,
 * replay) live in the repositories' queries.
 */
import type { Repos } from '../db/repositories/index.ts';
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
  /** Who asks, when a sign-in step begins a factor (an approval on a phone shows it). */
  asking?: { client: string | null; ip: string; browser: string | null };
}

/** What a code mail says about the request behind it, so the citizen can tell it is theirs. */
export interface MailRequest {
  /** The RP's name (null: kapu's own account portal). */
  service: string | null;
  /** The browser in a few words ("Chrome 131, Linux"), if known. */
  browser: string | null;
}

/** A sign-in's context for a passwordless factor: before its answer, no account is known. */
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
 * The outcome of checking what the person gave (a code, an approval). `shownOnce`: what a
 * confirmed setup shows the person once and never again (the app's törlőkód).
 */
export type Verification = { ok: true; shownOnce?: Record<string, string>; accountId?: string } | { ok: false; notice: Notice };

/** Where an out-of-band challenge (an approval on a phone) stands. */
export type ChallengeStatus = 'pending' | 'approved' | 'refused' | 'expired';

export interface FactorView {
  /** Template under views/ that renders the factor's part of the sign-in page. */
  template: string;
  data: Record<string, unknown>;
  /** What the page should say when the request brings no message of its own. */
  notice?: Notice;
  /** The page uses kapu's script (an out-of-band factor's waiting page asks for its status). */
  scripts?: boolean;
}

export interface EnrollmentStart {
  /** A secret to keep until `confirm` (sealed at rest by the caller), e.g. a new TOTP key. */
  keep?: string;
  /** What to tell the person (e.g. "a code was sent"); an error when refused. */
  notice?: Notice;
}

export interface OperatorEnrollment {
  /** Shown once to the operator, e.g. the otpauth:// URI of a new TOTP secret. */
  secretForDisplay?: string;
}

export interface Factor<Input = unknown> {
  /** Stable id, stored in the database: 'email', 'totp'. */
  readonly id: FactorId;
  /** The `amr` values (RFC 8176 where they exist) this factor adds to the password's `pwd`. */
  readonly amr: readonly string[];
  /** Locale key of the factor's name (method chooser, factor choice). */
  readonly labelKey: string;
  /** A level of its own (the phone app: ACR_APP) instead of the usual second factor's. */
  readonly level?: 'app';
  /**
   * An account may hold several (the phone app's phones): setting it up again adds one. Without
   * it, setting up a factor the account has moves it ("Beállítás másik eszközre": the old one
   * stops working).
   */
  readonly several?: true;
  /**
   * The one to suggest to a citizen who has no second factor yet, on the method chooser once
   * password-only sign-in has ended: it needs nothing to install (the emailed code).
   */
  readonly setUpFirst?: true;

  /**
   * Reads the factor's own fields of a submitted form; undefined when they could not be an
   * answer at all (wrong length, letters): that is no guess, and costs no try and no throttle.
   */
  parse(form: FormFields): Input | undefined;

  // ---- sign-in
  /** The flow switched to this factor: e.g. the emailed code is sent here. */
  begin(ctx: FactorContext): Promise<Notice | null>;
  /** Sends a fresh challenge on request (a new email); absent when there is nothing to resend. */
  resend?(ctx: FactorContext): Promise<Notice>;
  /** What the sign-in page shows for this factor. */
  view(ctx: FactorContext): Promise<FactorView>;
  /** Checks the answer; it runs with the sign-in locked, and a right answer is used up here. */
  verify(ctx: FactorContext, input: Input): Promise<Verification>;
  /**
   * An out-of-band factor (approval on another device) says where its challenge stands, for a
   * waiting page to poll. A read: it costs no try and counts toward no throttle.
   */
  status?(ctx: FactorContext): Promise<ChallengeStatus>;

  // ---- settings
  readonly enroll: {
    /** Starts setting up this factor for `ctx.account` (`ctx.flowId` is the enrollment). */
    begin(ctx: FactorContext): Promise<EnrollmentStart>;
    /** What the setup page shows while it waits for the proof (a QR code, a code's tag). */
    view(ctx: EnrollContext): Promise<FactorView>;
    /** A fresh proof on request (a new code mail); absent when there is nothing to resend. */
    resend?(ctx: EnrollContext): Promise<Notice>;
    /** Checks the person's proof; a right one makes the factor active. */
    confirm(ctx: EnrollContext, input: Input): Promise<Verification>;
  };
  /**
   * The proof of this factor under a username lock (absent: the factor offers none). See
   * `GuardedProof`.
   */
  readonly guarded?: GuardedProof<Input>;
  /**
   * How this factor proves, in the portal, a change that moves a factor (a new email address):
   * a second factor first (SPEC §5). Absent: the factor proves no change. See `ChangeProof`.
   */
  readonly proveChange?: ChangeProof<Input>;

  /**
   * Removes the factor from the account with everything it owns — its secrets, its live codes,
   * its devices and what they were asked or approved — so that nothing of it proves anything
   * any more; false when the account had none. Every way of removing a factor (the portal, the
   * lost phone, the operator's CLI) comes here, through EnrollmentService.remove.
   */
  remove(ctx: FactorContext): Promise<boolean>;
  /** An operator gives an account this factor (admin CLI), without a proof. */
  enrollByOperator(ctx: FactorContext): Promise<OperatorEnrollment>;
}

/**
 * A guarded sign-in's context (SPEC §5): strangers' failures have locked the username, and the
 * citizen proves the password and this factor together. `account` is null when the password
 * was wrong (or the account lacks this factor): the proof then stands in for the real one, looks
 * and answers the same, and can never succeed. `username` is what was typed (shown as typed,
 * never as the account spells it).
 */
export interface GuardedContext extends Omit<FactorContext, 'account'> {
  account: FactorAccount | null;
  username: string;
}

/**
 * How a factor is proved under a username lock. The same code runs with and without the account
 * behind it, so nothing on the page or in an answer tells a right password from a wrong one:
 * only the account's own factor (the mail it gets, the app it holds) can tell. The state it keeps
 * (`kept`, stored on the flow) must be written the same way in both cases.
 */
export interface GuardedProof<Input> {
  /** Sets up the proof (an emailed code is sent only when there is an account): the state to keep. */
  begin(ctx: GuardedContext): Promise<string>;
  /** What the page shows while the proof waits. */
  view(ctx: GuardedContext, kept: string): FactorView;
  /** Checks the answer; the state to keep after it (e.g. one try fewer). */
  verify(ctx: GuardedContext, kept: string, input: Input): Promise<{ verification: Verification; kept: string }>;
}

/**
 * A factor's proof of a change to the account in the portal (a new email address), asked for
 * before the change is made, the way a sign-in asks for it: a code from the app, a code mailed
 * to the account's current address. `ctx.flowId` is the change: what `begin` sends is bound to
 * it, and a right answer is used up by `verify`.
 */
export interface ChangeProof<Input> {
  /** Starts the proof (a code is mailed to the current address); an error notice when refused. */
  begin(ctx: FactorContext): Promise<Notice | null>;
  /** A fresh challenge on request (a new mail); absent when there is nothing to resend. */
  resend?(ctx: FactorContext): Promise<Notice>;
  /** What the change's page shows while it waits for the proof (a template with its own submit). */
  view(ctx: FactorContext): Promise<FactorView>;
  /** Checks the answer; the caller counts it toward the account's second-factor throttle first. */
  verify(ctx: FactorContext, input: Input): Promise<Verification>;
}

/**
 * A factor that finds the account itself and is two factors on its own (the phone app: a
 * device key that belongs to one account, unlocked by a PIN kapu checks), so a sign-in may
 * begin with it and skip the password: the method chooser's entry goes straight to it. Its
 * sign-in methods then get `account: null`, and a right answer names the account
 * (`accountId`). Its `amr` stands without `pwd` then.
 */
export interface PasswordlessFactor<Input = unknown> extends Factor<Input> {
  readonly passwordless: true;
  begin(ctx: FlowContext): Promise<Notice | null>;
  resend(ctx: FlowContext): Promise<Notice>;
  view(ctx: FlowContext): Promise<FactorView>;
  verify(ctx: FlowContext, input: Input): Promise<Verification>;
  status(ctx: FlowContext): Promise<ChallengeStatus>;
}

export function isPasswordless(factor: Factor | undefined): factor is PasswordlessFactor {
  return (factor as { passwordless?: unknown } | undefined)?.passwordless === true;
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
  pick(kinds: readonly string[]): Factor[] {
    return this.all().filter((f) => kinds.includes(f.id));
  }
}

/** A six-digit code field (`code`), trimmed of the spaces and dashes people paste in. */
export function parseCode(form: FormFields): { code: string } | undefined {
  const value = form['code'];
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const code = value.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? { code } : undefined;
}
