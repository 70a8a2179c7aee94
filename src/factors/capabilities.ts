/**
 * The capabilities a factor may have (see factor.ts for how a factor implements each): its
 * sign-in proof (typed or out-of-band), passwordless proof, setup, removal with what it owns,
 * the operator's setup, a new password's proof, a guarded proof, a change's proof. Part of the
 * factor contract (factor.ts re-exports it).
 */
import type { Repos } from '../db/repositories/index.ts';
import type { ChallengeStatus, Collected, EnrollContext, FactorAccount, FactorContext, FactorView, FlowContext, FormFields, Notice, Verification } from './context.ts';

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
  /**
   * The answer is checked without a lock on the sign-in: `verify` counts it in one statement of
   * its own, and a right answer comes back unspent (`Verification.spend`), to be used up by the
   * statement that ends the sign-in, which checks that the sign-in is still at this factor. An
   * answer already used up is refused with `spent`. The sign-in then needs no transaction.
   */
  readonly lockFree?: true;
  /** Checks the answer; it runs with the sign-in locked (unless `lockFree`), and a right answer is used up here (or spent with the end). */
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
  /** A word about it for the list (a locale key): a WebAuthn key says whether it is synced. */
  note?: string;
}

/** The portal's words for a factor's devices: see `Removable.devices.words`. */
export interface DeviceWords {
  title: string;
  link: string;
  add: string;
  removeIntro: string;
  none: string;
  removed: string;
}

/** The words for devices that are phones (the DÁP app's). */
export const DEVICE_WORDS: DeviceWords = {
  title: 'account.devices_title',
  link: 'account.devices_link',
  add: 'account.device_add',
  removeIntro: 'account.device_remove_intro',
  none: 'account.no_devices',
  removed: 'account.device_removed',
};

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
    /**
     * The portal's words for its devices (locale keys), when they are not phones: the page's
     * title, the home page's link to it, its add button, the sentence before the list, the
     * sentence for none, and the home page's notice after a removal. Absent: `DEVICE_WORDS`.
     */
    readonly words?: DeviceWords;
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
  /**
   * Its part of the page as made with the page, for a part that needs data of its own (a
   * challenge bound to `ctx.flowId`, the reset request or the change: single use, expiring like
   * a code). `ctx.account` is null on a forgotten password's page, which names no account: the
   * part is then the same whoever the name is. Absent: `template`, with no data.
   */
  view?(ctx: FlowContext): Promise<FactorView>;
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
