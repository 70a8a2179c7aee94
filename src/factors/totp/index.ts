/**
 * Ügyfélkapu+ with an authenticator app: TOTP per RFC 6238 (SHA-1, 6 digits, 30 s, ±1 step).
 * The 160-bit secret is sealed at rest (AES-256-GCM, bound to its account). Each time step is
 * accepted at most once per account: the replay guard is one conditional UPDATE.
 */
import { generateSecret, generateURI, verify } from 'otplib';
import type { Clock, Random } from '../../clock.ts';
import type { FactorsRepository } from '../../db/repositories/factors.ts';
import { AAD, type SecretBox } from '../../security/secret-box.ts';
import { type Factor, type FactorAccount, type FactorContext, type VerifyOutcome, normalizeCode } from '../factor.ts';

export const TOTP_FACTOR_ID = 'totp';
const PERIOD = 30;

export interface TotpDeps {
  factors: FactorsRepository;
  box: SecretBox;
  clock: Clock;
  random: Random;
  issuerLabel: string;
}

export class TotpFactor implements Factor {
  readonly id = TOTP_FACTOR_ID;
  /** RFC 8176 "otp": a one-time password from a generator. */
  readonly amr = 'otp';
  readonly labelKey = 'factor.totp';
  readonly resend = null;
  readonly #deps: TotpDeps;

  constructor(deps: TotpDeps) {
    this.#deps = deps;
  }

  async begin(): Promise<null> {
    return null;
  }

  async page() {
    return { template: 'factors/totp', data: {} };
  }

  async verify(ctx: FactorContext, input: string): Promise<VerifyOutcome> {
    const token = normalizeCode(input);
    if (!token) return { ok: false, error: { key: 'code.format' }, malformed: true };
    const factor = await this.#deps.factors.findSecret(ctx.account.id, this.id);
    if (!factor?.secret_sealed) return { ok: false, error: { key: 'totp.invalid' } };
    const secret = this.#deps.box.openText(factor.secret_sealed, AAD.factorSecret(ctx.account.id, TOTP_FACTOR_ID));
    const result = await verify({
      secret,
      token,
      period: PERIOD,
      epoch: Math.floor(this.#deps.clock.now().getTime() / 1000),
      epochTolerance: PERIOD,
    });
    // The functional API's result type also covers HOTP; a TOTP check always has timeStep.
    if (!result.valid || !('timeStep' in result)) return { ok: false, error: { key: 'totp.invalid' } };
    const fresh = await this.#deps.factors.acceptTimeStep(factor.id, result.timeStep, this.#deps.clock.now());
    return fresh ? { ok: true } : { ok: false, error: { key: 'totp.invalid' } };
  }

  async enrollByOperator(account: FactorAccount) {
    const secret = generateSecret({ length: 20 });
    await this.#deps.factors.put({
      id: this.#deps.random.uuid(),
      accountId: account.id,
      kind: this.id,
      secretSealed: this.#deps.box.seal(secret, AAD.factorSecret(account.id, TOTP_FACTOR_ID)),
      now: this.#deps.clock.now(),
    });
    return {
      secretForDisplay: generateURI({ issuer: this.#deps.issuerLabel, label: account.username, secret, period: PERIOD }),
    };
  }
}

