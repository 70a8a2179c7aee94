/**
 * The factors kapu offers, in the order the method chooser lists them. A new factor is one
 * folder beside these and one line here.
 */
import type { Clock, Random } from '../clock.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { DapFactor } from './dap/index.ts';
import { EmailCodeFactor } from './email-code/index.ts';
import { FactorRegistry } from './factor.ts';
import { TotpFactor } from './totp/index.ts';

export interface FactorDeps {
  box: SecretBox;
  mailer: Mailer;
  passwords: PasswordHasher;
  codes: EmailedCodes;
  clock: Clock;
  random: Random;
  /** kapu's public origin (the DÁP app's links, and what its devices sign). */
  origin: string;
}

export function createFactors(deps: FactorDeps): FactorRegistry {
  return new FactorRegistry([new DapFactor(deps), new TotpFactor({ ...deps, issuerLabel: 'Ügyfélkapu+' }), new EmailCodeFactor(deps)]);
}
