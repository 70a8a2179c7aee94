/**
 * What each state of a sign-in puts on screen, decided by the core (which methods are allowed,
 * which factors the account has, why an upgrade is needed) and drawn by the interaction views.
 */
import type { FactorView } from '../factors/factor.ts';

export interface Option {
  id: string;
  labelKey: string;
  /** What the browser must have for it (see Factor.needs): shown only where it has it. */
  needs?: 'webauthn';
}

export interface MethodOption extends Option {
  /** The password-only method, with the day it ends (null: no cut-off set). */
  legacy?: { until: Date | null };
}

export type UpgradeReason =
  /** The RP demands a second factor and the account has none. */
  | 'required'
  /** The chosen Ügyfélkapu+ method is not set up, and no other is. */
  | 'not_enrolled'
  /** Password-only sign-in has ended (LEGACY_LOGIN_UNTIL). */
  | 'cutoff';

export type SignInPage =
  /** `legacyEnded`: password-only sign-in has ended (since that day); `setUp` is the method to suggest to an account without Ügyfélkapu+. */
  | { state: 'choose_method'; methods: MethodOption[]; legacyEnded?: { since: Date; setUp: Option } }
  | { state: 'password'; method: Option; username: string }
  | { state: 'choose_factor'; factors: Option[]; chosenMissing: boolean }
  /**
   * `guarded`: the username is locked, and this factor's proof (with the password) still gets in.
   * `withPassword`: a passwordless proof whose factor proves a sign-in after the password too:
   * the page offers that way (username and password first).
   */
  | { state: 'factor'; factor: Option; view: FactorView; others: Option[]; canResend: boolean; guarded?: true; withPassword?: true }
  /** No second factor where one is needed: set one up here, or (where allowed) go on without. */
  | { state: 'upgrade'; reason: UpgradeReason; setUp: Option[]; passwordOnly: boolean }
  /** A factor being set up inline: its setup page (a QR code, the mailed code's tag). */
  | { state: 'enroll'; factor: Option; view: FactorView; canResend: boolean };
