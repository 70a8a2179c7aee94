/**
 * Ügyfélkapu+ with an authenticator app: TOTP per RFC 6238 (SHA-1, 6 digits, 30 s, ±1 step).
 * The 160-bit secret is sealed at rest (AES-256-GCM, bound to its account). Each time step is
 * accepted at most once per account: the replay guard is one conditional UPDATE.
 *
 * Setting it up: `enroll.begin` makes a new secret (kept, sealed, by the enrollment) and shows
 * it as an otpauth:// URI and as text; `enroll.confirm` takes the first code the app shows and
 * makes that secret the account's, replacing any older one (a new phone).
 */
import { generateSecret, generateURI, verify } from 'otplib';
import type { Clock, Random } from '../../clock.ts';
import type { Mailer } from '../../mail/mailer.ts';
import { AAD, type SecretBox } from '../../security/secret-box.ts';
import { type EnrollContext, type EnrollmentStart, type Factor, type FactorContext, type Verification, parseCode } from '../factor.ts';

export const TOTP_FACTOR_ID = 'totp';
const PERIOD = 30;

export interface TotpDeps {
  box: SecretBox;
  mailer: Mailer;
  clock: Clock;
  random: Random;
  issuerLabel: string;
}

type CodeInput = { code: string };

const REFUSED: Verification = { ok: false, notice: { key: 'totp.invalid' } };

export class TotpFactor implements Factor<CodeInput> {
  readonly id = TOTP_FACTOR_ID;
  /** RFC 8176 "otp": a one-time password from a generator. */
  readonly amr = ['otp'];
  readonly labelKey = 'factor.totp';
  readonly #deps: TotpDeps;

  constructor(deps: TotpDeps) {
    this.#deps = deps;
  }

  parse(form: Readonly<Record<string, unknown>>): CodeInput | undefined {
    return parseCode(form);
  }

  async begin(): Promise<null> {
    return null;
  }

  async view() {
    return { template: 'factors/totp', data: {} };
  }

  async verify(ctx: FactorContext, input: CodeInput): Promise<Verification> {
    const factor = await ctx.repos.factors.findSecret(ctx.account.id, this.id);
    if (!factor?.secret_sealed) return REFUSED;
    const timeStep = await this.#timeStep(this.#deps.box.openText(factor.secret_sealed, AAD.factorSecret(ctx.account.id, this.id)), input.code);
    if (timeStep === null) return REFUSED;
    return (await ctx.repos.factors.acceptTimeStep(factor.id, timeStep, this.#deps.clock.now())) ? { ok: true } : REFUSED;
  }

  readonly enroll = {
    begin: async (ctx: FactorContext): Promise<EnrollmentStart> => {
      const secret = generateSecret({ length: 20 });
      return { keep: secret, show: { uri: this.#uri(ctx.account.username, secret), secret } };
    },
    confirm: async (ctx: EnrollContext, input: CodeInput): Promise<Verification> => {
      if (!ctx.kept) return REFUSED;
      const timeStep = await this.#timeStep(ctx.kept, input.code);
      if (timeStep === null) return REFUSED;
      const now = this.#deps.clock.now();
      await ctx.repos.factors.put({
        id: this.#deps.random.uuid(),
        accountId: ctx.account.id,
        kind: this.id,
        secretSealed: this.#deps.box.seal(ctx.kept, AAD.factorSecret(ctx.account.id, this.id)),
        lastTimeStep: timeStep,
        now,
      });
      await this.#deps.mailer.queue(
        ctx.repos.outbox,
        this.#deps.mailer.notice(ctx.account.email, ctx.lang, { key: 'mail.enrolled_totp', name: ctx.account.name }),
        now,
      );
      return { ok: true };
    },
  };

  remove(ctx: FactorContext): Promise<boolean> {
    return ctx.repos.factors.remove(ctx.account.id, this.id);
  }

  async enrollByOperator(ctx: FactorContext) {
    const secret = generateSecret({ length: 20 });
    await ctx.repos.factors.put({
      id: this.#deps.random.uuid(),
      accountId: ctx.account.id,
      kind: this.id,
      secretSealed: this.#deps.box.seal(secret, AAD.factorSecret(ctx.account.id, this.id)),
      now: this.#deps.clock.now(),
    });
    return { secretForDisplay: this.#uri(ctx.account.username, secret) };
  }

  /** The time step `code` belongs to under `secret` (±1 step of now), or null. */
  async #timeStep(secret: string, code: string): Promise<number | null> {
    const result = await verify({ secret, token: code, period: PERIOD, epoch: Math.floor(this.#deps.clock.now().getTime() / 1000), epochTolerance: PERIOD });
    // The functional API's result type also covers HOTP; a TOTP check always has timeStep.
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  }

  #uri(username: string, secret: string): string {
    return generateURI({ issuer: this.#deps.issuerLabel, label: username, secret, period: PERIOD });
  }
}
