/**
 * The factor contract: a second factor is a folder that implements some of the capabilities
 * below, and the sign-in core (src/auth), the portal, recovery, the CLI and admin only ever ask
 * the registry for a capability ("which of the account's factors can prove a password reset?"),
 * never for a factor by name or by kind. Adding a factor is one new folder here and one line in
 * src/factors/index.ts.
 *
 * How a factor implements each capability (every one optional except the identity fields and
 * `parse`; leave out what the factor cannot do, and nothing will ever ask it to):
 * - `signIn` (a sign-in proof after the password): either a `TypedProof` — the citizen types the
 *   answer on kapu's page (a code); every answer is a guess, counted before `verify` runs — or an
 *   `OutOfBandProof` — the answer is given on another device; the page waits, `status` says where
 *   the challenge stands as a typed `ChallengeStatus`, and `collect` picks up an approval (no
 *   guess, no throttle count). `begin` starts it (a code is mailed), `view` is the page part.
 * - `passwordless` (a sign-in that needs no password: the proof names the account itself, and is
 *   two factors on its own): the same two proof shapes over a `FlowContext` (no account yet);
 *   the method chooser's entry goes straight to it.
 * - `enroll` (set up by the citizen, in the portal or inline during a sign-in): `begin` (what to
 *   keep until the proof, sealed by the caller), `view` (the setup page part), `resend`,
 *   `confirm` (the proof; a right one makes the factor active).
 * - `removal` (removable): `remove` takes the factor and all it owns (devices, live codes,
 *   secrets), so nothing of it proves anything any more; `devices`, for a factor an account
 *   holds several of (phones), lists them and removes one.
 * - `operatorEnroll` (an operator gives it with the admin CLI, without a proof), with its own CLI
 *   options and help.
 * - `proveReset` (proves a new password, beside the current one or a forgotten password's mailed
 *   code): asked of the account's factors that have it.
 * - `proveChange` (proves, in the portal, a change that moves a factor, e.g. a new address).
 * - `guarded` (a proof under a username lock, the same with and without an account behind it).
 * - `maintain` (its own housekeeping: expired challenges in its own tables).
 *
 * What only the factor knows stays in its folder: its repository over its own tables
 * (`repos.of(KEY)`, see src/db/repositories/index.ts), its page parts (`views/*.eta`, named
 * `@<id>/<file>`), its words (`locales/<lang>.json`), its routes (`FactorModule.routes`).
 *
 * Every method runs inside the caller's unit of work, on `ctx.repos`: what a factor writes
 * commits or rolls back with the step that asked for it. Rules (attempts, single use, replay)
 * live in the repositories' queries.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { SecretBox } from '../security/secret-box.ts';
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

/** Who is asking, as a factor may show it (a phone's approval names the service and browser). */
export interface Asking {
  /** The service (RP) signed into, by name; null: kapu's own account portal. */
  client: string | null;
  ip: string;
  browser: string | null;
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
  asking?: Asking;
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
 * account a passwordless proof found.
 */
export type Verification = { ok: true; shownOnce?: Record<string, string>; accountId?: string } | { ok: false; notice: Notice };

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

interface ProofSteps<C> {
  /** The flow switched to this proof: e.g. the emailed code is sent here. An error notice: refused. */
  begin(ctx: C): Promise<Notice | null>;
  /** A fresh challenge on request (a new email, a new QR code); absent when there is nothing to resend. */
  resend?(ctx: C): Promise<Notice>;
  /** What the sign-in page shows for this proof. */
  view(ctx: C): Promise<FactorView>;
}

/** A proof whose answer is typed on kapu's page: every answer is a guess, counted before `verify`. */
export interface TypedProof<Input, C = FactorContext> extends ProofSteps<C> {
  readonly answered: 'typed';
  /** Checks the answer; it runs with the sign-in locked, and a right answer is used up here. */
  verify(ctx: C, input: Input): Promise<Verification>;
}

/** A proof answered on another device: the page waits, and picking the answer up is no guess. */
export interface OutOfBandProof<C = FactorContext> extends ProofSteps<C> {
  readonly answered: 'out_of_band';
  /** Where the challenge stands, for a waiting page to poll: a read, no try, no throttle. */
  status(ctx: C): Promise<ChallengeStatus>;
  /** Picks up an approval (once, for the sign-in that asked), with the sign-in locked. */
  collect(ctx: C): Promise<Collected>;
}

/** How a factor proves a sign-in after the password. */
export type SignInProof<Input> = TypedProof<Input> | OutOfBandProof;

/**
 * How a factor proves a sign-in on its own (it finds the account and is two factors by itself:
 * a device key unlocked by a PIN). Its `amr` then stands without `pwd`.
 */
export type PasswordlessProof<Input> = TypedProof<Input, FlowContext> | OutOfBandProof<FlowContext>;

export interface EnrollmentStart {
  /** A secret to keep until `confirm` (sealed at rest by the caller), e.g. a new TOTP key. */
  keep?: string;
  /** What to tell the person (e.g. "a code was sent"); an error when refused. */
  notice?: Notice;
}

/** Setting the factor up by the citizen: begin → the person proves it → confirm. */
export interface Enrollable<Input> {
  /**
   * Setting it up again moves it to a new device (a new secret; the old one stops working), so
   * the portal offers that ("Beállítás másik eszközre"). Absent: nothing to move.
   */
  readonly moves?: true;
  /**
   * The portal's setup words (locale keys): the first step's button ("Megerősítő kód küldése")
   * and the heading of the dialog that waits for the proof.
   */
  readonly words: { start: string; dialog: string };
  /** Starts setting up this factor for `ctx.account` (`ctx.flowId` is the enrollment). */
  begin(ctx: FactorContext): Promise<EnrollmentStart>;
  /** What the setup page shows while it waits for the proof (a QR code, a code's tag). */
  view(ctx: EnrollContext): Promise<FactorView>;
  /** A fresh proof on request (a new code mail); absent when there is nothing to resend. */
  resend?(ctx: EnrollContext): Promise<Notice>;
  /** Checks the person's proof; a right one makes the factor active. */
  confirm(ctx: EnrollContext, input: Input): Promise<Verification>;
}

/** One device of a factor an account may hold several of (a phone). */
export interface Device {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Locked (too many wrong PINs) until set up again. */
  lockedAt: Date | null;
}

export interface Removable {
  /**
   * Removes the factor from the account with everything it owns — its secrets, its live codes,
   * its devices and what they were asked or approved — so that nothing of it proves anything
   * any more; false when the account had none. Every way of removing a factor (the portal, the
   * lost phone, the operator's CLI) comes here, through EnrollmentService.remove.
   */
  remove(ctx: FactorContext): Promise<boolean>;
  /** For a factor an account holds several of: its devices, one by one. */
  readonly devices?: {
    list(repos: Repos, accountId: string): Promise<Device[]>;
    /** Removes one device with what it approved; the device removed, or undefined. */
    removeOne(ctx: FactorContext, deviceId: string): Promise<Device | undefined>;
    /** The notice mail's key that tells the citizen a device went (`{device}` is its name). */
    readonly removedMail: string;
  };
  /**
   * A code shown once at setup (the app's törlőkód) that, with the username and password,
   * removes the factor without it (a lost phone). Its hash is the factor row's `recovery_hash`.
   */
  readonly recoveryCode?: {
    /** The code as typed, made comparable (case, spaces and dashes do not matter). */
    normalize(typed: string): string;
    /** The notice mail's key that tells the citizen the factor went this way. */
    readonly removedMail: string;
  };
}

export interface OperatorEnrollment {
  /** Shown once to the operator, e.g. the otpauth:// URI of a new TOTP secret. */
  secretForDisplay?: string;
}

/** An operator gives an account this factor (admin CLI), without a proof. */
export interface OperatorEnrollable {
  enroll(ctx: FactorContext): Promise<OperatorEnrollment>;
  /**
   * What `enroll` showed the operator, again, from what the factor stores (the otpauth:// URI
   * of the account's TOTP secret): only the development demo asks, to show its citizen's app.
   */
  shownAgain?(ctx: FactorContext): Promise<string | undefined>;
}

/**
 * How a factor proves a new password (SPEC §2), beside the current password or a forgotten
 * password's mailed code. `ctx.flowId` is the change.
 */
export interface ResetProof<Input> {
  /**
   * Proved by the account's mailbox (the emailed code): a forgotten password's mailed code is
   * this proof already, so only a change from the portal asks it separately.
   */
  readonly byMailbox?: true;
  /** Its part of the new-password page (its field; `it.reset`: a forgotten password's page). */
  readonly template: string;
  /** Reads its answer from the new-password form (each proof has a field of its own). */
  parse(form: FormFields): Input | undefined;
  /** Starts the proof for a change in the portal (a code is mailed); an error notice when refused. */
  begin(ctx: FactorContext): Promise<Notice | null>;
  /** Checks the answer; the caller counts it toward the account's second-factor throttle first. */
  verify(ctx: FactorContext, input: Input): Promise<Verification>;
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

export interface Factor<Input = unknown> {
  /** Stable id, stored in the database. */
  readonly id: FactorId;
  /** The `amr` values (RFC 8176 where they exist) this factor adds to the password's `pwd`. */
  readonly amr: readonly string[];
  /** Locale key of the factor's name (method chooser, factor choice). */
  readonly labelKey: string;
  /** A level of its own (the phone app: ACR_APP) instead of the usual second factor's. */
  readonly level?: 'app';
  /**
   * The one to suggest to a citizen who has no second factor yet, on the method chooser once
   * password-only sign-in has ended: it needs nothing to install (the emailed code).
   */
  readonly setUpFirst?: true;
  /**
   * Having it proves that the account's address receives kapu's mail (the emailed code): RPs
   * are told the address is verified (`email_verified`).
   */
  readonly provesAddress?: true;

  /**
   * Reads the factor's own fields of a submitted form; undefined when they could not be an
   * answer at all (wrong length, letters): that is no guess, and costs no try and no throttle.
   */
  parse(form: FormFields): Input | undefined;

  readonly signIn?: SignInProof<Input>;
  readonly passwordless?: PasswordlessProof<Input>;
  readonly enroll?: Enrollable<Input>;
  readonly removal?: Removable;
  readonly operatorEnroll?: OperatorEnrollable;
  readonly proveReset?: ResetProof<Input>;
  readonly proveChange?: ChangeProof<Input>;
  readonly guarded?: GuardedProof<Input>;

  /**
   * The factor's own housekeeping, which any replica may run at any time (idempotent): deletes
   * its rows that expired before `expiredBefore` (an hour ago: hourly caps count them); the count.
   */
  maintain?(repos: Repos, expiredBefore: Date): Promise<number>;
}

/** What a factor may be built with: kapu's services, never a route or a request. */
export interface FactorDeps {
  uow: UnitOfWork<Repos>;
  box: SecretBox;
  mailer: Mailer;
  passwords: PasswordHasher;
  codes: EmailedCodes;
  clock: Clock;
  random: Random;
  /** kapu's public origin (the DÁP app's links, and what its devices sign). */
  origin: string;
}

/** A factor known to have capability `K`: what the registry's `having` hands out. */
export type With<K extends keyof Factor> = Factor & { readonly [P in K]-?: NonNullable<Factor[P]> };

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

  /** The factors (of `among`, by default all) that have capability `capability`, in registry order. */
  having<K extends keyof Factor>(capability: K, among: readonly Factor[] = this.all()): Array<With<K>> {
    return among.filter((f): f is With<K> => f[capability] !== undefined);
  }

  /** The factor `id` when it has capability `capability`. */
  with<K extends keyof Factor>(id: string | null | undefined, capability: K): With<K> | undefined {
    const factor = this.get(id);
    return factor && factor[capability] !== undefined ? (factor as With<K>) : undefined;
  }
}

/** A six-digit code field (`code` unless named), trimmed of the spaces and dashes people paste in. */
export function parseCode(form: FormFields, field = 'code'): { code: string } | undefined {
  const value = form[field];
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const code = value.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? { code } : undefined;
}
