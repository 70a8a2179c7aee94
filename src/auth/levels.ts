/**
 * Authentication levels. kapu knows password only, password + a second factor, and the phone
 * app (DÁP: a device key with a PIN). Their `acr` URIs are configurable (eIDAS LoA low /
 * substantial by default; the app is substantial too unless ACR_APP maps it higher, e.g. to
 * LoA high, and then it alone reaches that level). A phishing-resistant key (WebAuthn) has its own,
 * ACR_PASSKEY, in the same way.
 */
import type { Config } from '../config/index.ts';

export type Level = 'password' | 'two_factor' | 'app' | 'phishing_resistant';

export class AcrPolicy {
  readonly #acr: Config['acr'];
  readonly #legacyUntil: Date | null;

  readonly #rank: Record<Level, number>;

  constructor(acr: Config['acr'], legacyUntil: Date | null) {
    this.#acr = acr;
    this.#legacyUntil = legacyUntil;
    this.#rank = { password: 1, two_factor: 2, app: acr.app === acr.twoFactor ? 2 : 3, phishing_resistant: acr.phishingResistant === acr.twoFactor ? 2 : 3 };
  }

  get values(): string[] {
    return [...new Set([this.#acr.passwordOnly, this.#acr.twoFactor, this.#acr.app, this.#acr.phishingResistant])];
  }

  acrOf(level: Level): string {
    return level === 'app' ? this.#acr.app : level === 'phishing_resistant' ? this.#acr.phishingResistant : level === 'two_factor' ? this.#acr.twoFactor : this.#acr.passwordOnly;
  }

  levelOf(acr: string | undefined | null): Level | undefined {
    if (acr === this.#acr.twoFactor) return 'two_factor';
    if (acr === this.#acr.app) return 'app';
    if (acr === this.#acr.phishingResistant) return 'phishing_resistant';
    if (acr === this.#acr.passwordOnly) return 'password';
    return undefined;
  }

  /**
   * The lowest level this request may end with: the client's minimum, raised by acr_values.
   * Of several acr_values the lowest known one counts (any of them satisfies the RP); unknown
   * values are ignored, as OIDC lets an OP do for voluntary acr requests.
   */
  required(acrValues: string | undefined, clientMinAcr: unknown): Level {
    let level: Level = 'password';
    const clientMin = typeof clientMinAcr === 'string' ? this.levelOf(clientMinAcr) : undefined;
    if (clientMin && this.#rank[clientMin] > this.#rank[level]) level = clientMin;
    const requested = (acrValues ?? '')
      .split(' ')
      .map((v) => this.levelOf(v))
      .filter((l): l is Level => l !== undefined)
      .sort((a, b) => this.#rank[a] - this.#rank[b])[0];
    if (requested && this.#rank[requested] > this.#rank[level]) level = requested;
    return level;
  }

  satisfies(have: Level | undefined, need: Level): boolean {
    return have !== undefined && this.#rank[have] >= this.#rank[need];
  }

  /** Is password-only sign-in still allowed at `now` (SPEC §4)? */
  legacyAllowed(now: Date): boolean {
    return this.#legacyUntil === null || now < this.#legacyUntil;
  }

  get legacyUntil(): Date | null {
    return this.#legacyUntil;
  }
}

/**
 * RFC 8176 `amr` of a finished sign-in: the password's, and the factor's with `mfa`. A
 * passwordless factor (the phone app: key + PIN) is two factors without the password.
 */
export function amrFor(factorAmr: readonly string[] | null, withPassword = true): string[] {
  if (!factorAmr) return ['pwd'];
  return withPassword ? ['pwd', ...factorAmr, 'mfa'] : [...factorAmr, 'mfa'];
}
