/**
 * The factors kapu offers, in the order the method chooser lists them. A new factor is one
 * folder beside these and one line here: nothing else in kapu names it.
 */
import { dap } from './dap/index.ts';
import { emailCode } from './email-code/index.ts';
import { FactorRegistry, type FactorDeps } from './factor.ts';
import type { FactorModule } from './module.ts';
import { passkey } from './passkey/index.ts';
import { totp } from './totp/index.ts';

export const FACTORS: readonly FactorModule[] = [dap, totp, emailCode, passkey];

export function createFactors(modules: readonly FactorModule[], deps: FactorDeps): FactorRegistry {
  return new FactorRegistry(modules.map((m) => m.create(deps)));
}
