/**
 * A factor's folder as kapu registers it (src/factors/index.ts): its id, where its page parts
 * (`views/*.eta`, named `@<id>/<file>`) and words (`locales/<lang>.json`) are, how to build it,
 * and the HTTP routes it brings of its own (the DÁP app's device API). Kept apart from the
 * contract (factor.ts), which the HTTP-free core reads.
 */
import type Router from '@koa/router';
import type { Factor, FactorDeps, FactorId } from './factor.ts';

export interface FactorModule {
  readonly id: FactorId;
  /** The factor's folder (`new URL('./', import.meta.url)` in its index.ts). */
  readonly folder: URL;
  create(deps: FactorDeps): Factor;
  /** Routes of its own, mounted beside kapu's (thin adapters over the factor's own services). */
  routes?(deps: FactorDeps): Router[];
  /** The operator's `account add-factor USERNAME <id>`, for a factor an operator can give. */
  readonly cli?: FactorCli;
}

/** How `account add-factor` gives this factor: its help, its own options, and what it says. */
export interface FactorCli {
  /** One line for the help: what the account gets. */
  readonly help: string;
  /** Its own flags (`--replace`), each with its help. */
  readonly options?: Readonly<Record<string, string>>;
  /** It makes a secret sealed with ENCRYPTION_KEYS: refused on generated (development) keys. */
  readonly sealsSecret?: true;
  /**
   * An account that has it already: `keep` (nothing is done, and that is no failure), or refused
   * unless the flag `replaceFlag` is given (a new secret: the old device stops working).
   */
  readonly again: { keep: true } | { replaceFlag: string; refusal: (username: string) => string };
  /** The JSON field that carries what the operator is shown once (`otpauthUri`). */
  readonly shownAs?: string;
  /** What the operator reads (text mode); `username` and `email` are printable already. */
  said(account: { username: string; email: string }, outcome: { added: boolean; shown?: string }): string[];
}
