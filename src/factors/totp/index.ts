/**
 * Ügyfélkapu+ with an authenticator app: TOTP per RFC 6238 (SHA-1, 6 digits, 30 s, ±1 step).
 * The 160-bit secret is sealed at rest (AES-256-GCM, bound to its account). Each time step is
 * accepted at most once per account: the replay guard is one conditional UPDATE.
 *
 * Setting it up: `enroll.begin` makes a new secret (kept, sealed, by the enrollment), shown as a
 * QR code drawn here (SVG, no external service) and as text; `enroll.confirm` takes the first
 * code the app shows and makes that secret the account's, replacing any older one (a new
 * phone). It also makes a törlőkód (removal code), shown once and stored only as an argon2id
 * hash: with it, username and password, a citizen who lost the phone removes the app.
 */
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Clock, Random } from '../../clock.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type { PasswordHasher } from '../../security/passwords.ts';
import { AAD, type SecretBox } from '../../security/secret-box.ts';
import {
  type ChangeProof,
  type EnrollContext,
  type Enrollable,
  type EnrollmentStart,
  type Factor,
  type FactorContext,
  type FactorView,
  type GuardedProof,
  type OperatorEnrollable,
  type Removable,
  type ResetProof,
  type TypedProof,
  type Verification,
  parseCode,
} from '../factor.ts';
import type { FactorModule } from '../module.ts';

export const TOTP_FACTOR_ID = 'totp';
const PERIOD = 30;

export interface TotpDeps {
  box: SecretBox;
  mailer: Mailer;
  passwords: PasswordHasher;
  clock: Clock;
  random: Random;
  issuerLabel: string;
}

type CodeInput = { code: string };

const REFUSED: Verification = { ok: false, notice: { key: 'totp.invalid' } };
/** No account has this id: a stand-in proof's read finds nothing. */
const STAND_IN_ACCOUNT = '00000000-0000-0000-0000-000000000000';

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

  /** A code typed from the app: nothing to send, nothing to resend. */
  readonly signIn: TypedProof<CodeInput> = {
    answered: 'typed',
    begin: async () => null,
    view: async () => ({ template: '@totp/sign-in', data: {} }),
    verify: (ctx, input) => this.#verify(ctx, input),
  };

  async #verify(ctx: FactorContext, input: CodeInput): Promise<Verification> {
    const factor = await ctx.repos.factors.findSecret(ctx.account.id, this.id);
    if (!factor?.secret_sealed) return REFUSED;
    const timeStep = await this.#timeStep(this.#deps.box.openText(factor.secret_sealed, AAD.factorSecret(ctx.account.id, this.id)), input.code);
    if (timeStep === null) return REFUSED;
    return (await ctx.repos.factors.acceptTimeStep(factor.id, timeStep, this.#deps.clock.now())) ? { ok: true } : REFUSED;
  }

  /**
   * Under a username lock: the same code field, and the same check where the password was right.
   * A stand-in reads a secret that is not there, so both answers cost the same round trip.
   */
  readonly guarded: GuardedProof<CodeInput> = {
    begin: async () => '',
    view: () => ({ template: '@totp/sign-in', data: {} }),
    verify: async (ctx, kept, input) => {
      if (ctx.account) return { verification: await this.#verify({ ...ctx, account: ctx.account }, input), kept };
      await ctx.repos.factors.findSecret(STAND_IN_ACCOUNT, this.id);
      return { verification: REFUSED, kept };
    },
  };

  /** A change in the portal: the app's code, checked as at a sign-in (each time step once). */
  readonly proveChange: ChangeProof<CodeInput> = {
    begin: async () => null,
    view: async () => ({ template: '@totp/change', data: {} }),
    verify: (ctx, input) => this.#verify(ctx, input),
  };

  /**
   * A new password (a change in the portal, a forgotten one): the app's code too, in a field of
   * its own (`app_code`), so that a mailbox alone never takes over an account that has the app.
   */
  readonly proveReset: ResetProof<CodeInput> = {
    template: '@totp/reset',
    parse: (form) => parseCode(form, 'app_code'),
    begin: async () => null,
    verify: (ctx, input) => this.#verify(ctx, input),
  };

  readonly enroll: Enrollable<CodeInput> = {
    moves: true,
    words: { start: 'setup.next', dialog: 'setup.totp_dialog' },
    begin: async (): Promise<EnrollmentStart> => ({ keep: generateSecret({ length: 20 }) }),
    view: async (ctx: EnrollContext): Promise<FactorView> => {
      if (!ctx.kept) return { template: '@totp/enroll', data: {} };
      const uri = this.#uri(ctx.account.username, ctx.kept);
      // An image of kapu's own making (pages load nothing from elsewhere); the key as text too.
      const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { template: '@totp/enroll', data: { uri, secret: groups(ctx.kept, 4), qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` } };
    },
    confirm: async (ctx: EnrollContext, input: CodeInput): Promise<Verification> => {
      if (!ctx.kept) return REFUSED;
      const timeStep = await this.#timeStep(ctx.kept, input.code);
      if (timeStep === null) return REFUSED;
      const now = this.#deps.clock.now();
      const recoveryCode = newRecoveryCode(this.#deps.random);
      const moved = await ctx.repos.factors.put({
        id: this.#deps.random.uuid(),
        accountId: ctx.account.id,
        kind: this.id,
        secretSealed: this.#deps.box.seal(ctx.kept, AAD.factorSecret(ctx.account.id, this.id)),
        lastTimeStep: timeStep,
        recoveryHash: await this.#deps.passwords.hash(normalizeRecoveryCode(recoveryCode)),
        now,
      });
      await this.#deps.mailer.queue(
        ctx.repos.outbox,
        // Moved to a new phone ("Beállítás másik eszközre"): the mail says what stopped working.
        this.#deps.mailer.notice(ctx.account.email, ctx.lang, { key: moved ? 'mail.moved_totp' : 'mail.enrolled_totp', name: ctx.account.name }),
        now,
      );
      return { ok: true, shownOnce: { recoveryCode } };
    },
  };

  /** Its row holds all it owns: the sealed secret, the last time step and the törlőkód's hash. */
  readonly removal: Removable = {
    remove: (ctx) => ctx.repos.factors.remove(ctx.account.id, this.id),
    recoveryCode: { normalize: normalizeRecoveryCode, removedMail: 'mail.app_removed' },
  };

  /** A new secret, its otpauth:// URI shown once to the operator. */
  readonly operatorEnroll: OperatorEnrollable = {
    enroll: (ctx) => this.#enrollByOperator(ctx),
    shownAgain: async (ctx) => {
      const sealed = (await ctx.repos.factors.findSecret(ctx.account.id, this.id))?.secret_sealed;
      return sealed ? this.#uri(ctx.account.username, this.#deps.box.openText(sealed, AAD.factorSecret(ctx.account.id, this.id))) : undefined;
    },
  };

  async #enrollByOperator(ctx: FactorContext) {
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

/** 31 symbols without look-alikes (no 0/O, 1/I/L): 16 of them are 79 random bits. */
const RECOVERY_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** A new törlőkód: 16 symbols in groups of four, easy to write down and type back. */
function newRecoveryCode(random: Random): string {
  let code = '';
  for (let i = 0; i < 16; i += 1) code += RECOVERY_ALPHABET[random.int(RECOVERY_ALPHABET.length)];
  return groups(code, 4);
}

/** A törlőkód as typed: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]/g, '');
}

function groups(text: string, size: number): string {
  return text.match(new RegExp(`.{1,${size}}`, 'g'))!.join('-');
}

export const totp: FactorModule = {
  id: TOTP_FACTOR_ID,
  folder: new URL('./', import.meta.url),
  create: (deps) => new TotpFactor({ ...deps, issuerLabel: 'Ügyfélkapu+' }),
  cli: {
    help: 'an authenticator app (Ügyfélkapu+ hitelesítő alkalmazással); prints its otpauth:// URI once',
    options: { replace: 'the account has an app already: a new secret replaces it (the old phone stops working)' },
    sealsSecret: true,
    // A new secret silently replacing the old one would stop the citizen's phone working.
    again: { replaceFlag: 'replace', refusal: (username) => `${username} already has an authenticator app; --replace issues a new secret and the old one stops working` },
    shownAs: 'otpauthUri',
    said: (account, { shown }) => [
      `authenticator-app factor added for ${account.username}.`,
      'This URI is the secret and is shown only once: hand it to the account holder over a safe channel (e.g. as a QR code).',
      shown ?? '',
    ],
  },
};
