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
 *   A typed proof that checks in one statement may be `lockFree`: its right answer comes back
 *   unspent (`Verification.spend`) and the statement that ends the sign-in uses it up, so the
 *   step runs without a transaction (an answer already used up is refused as `spent`).
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
 * commits or rolls back with the step that asked for it (a lock-free proof's `verify`: on
 * single statements). Rules (attempts, single use, replay)
 * live in the repositories' queries.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { SecretBox } from '../security/secret-box.ts';
import type { ChangeProof, Enrollable, GuardedProof, OperatorEnrollable, PasswordlessProof, Removable, ResetProof, SignInProof } from './capabilities.ts';
import type { FactorId, FormFields } from './context.ts';

export type * from './capabilities.ts';
export type * from './context.ts';

export interface Factor<Input = unknown> {
  /** Stable id, stored in the database. */
  readonly id: FactorId;
  /** The `amr` values (RFC 8176 where they exist) this factor adds to the password's `pwd`. */
  readonly amr: readonly string[];
  /** Locale key of the factor's name (method chooser, factor choice). */
  readonly labelKey: string;
  /**
   * A level of its own instead of the usual second factor's: the phone app's (ACR_APP), or a
   * phishing-resistant key's (WebAuthn, bound to kapu's origin: ACR_PASSKEY).
   */
  readonly level?: 'app' | 'phishing_resistant';
  /**
   * The one to suggest to a citizen who has no second factor yet, on the method chooser once
   * password-only sign-in has ended: it needs nothing to install (the emailed code).
   */
  readonly setUpFirst?: true;
  /**
   * What the browser must have for this factor's pages to work (WebAuthn, used by a
   * script). Where it lacks it, the factor's buttons on the chooser and the factor choice stay
   * hidden and a sentence says why (`needs.<what>` in the locales), rather than a dead button.
   */
  readonly needs?: 'webauthn';
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
