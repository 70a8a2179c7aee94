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
}
