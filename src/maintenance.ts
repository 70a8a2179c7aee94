/**
 * Housekeeping that any replica may run at any time (every statement is idempotent): expired
 * provider artefacts, sign-in flows and one-time codes are deleted. Codes are kept an hour past
 * expiry because the hourly send cap counts them; idle throttle counters after a day.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { LoginFlowsRepository } from './db/repositories/login-flows.ts';
import type { OidcPayloadsRepository } from './db/repositories/oidc-payloads.ts';
import type { OneTimeCodesRepository } from './db/repositories/one-time-codes.ts';
import type { ThrottleRepository } from './db/repositories/throttle.ts';

export interface MaintenanceDeps {
  payloads: OidcPayloadsRepository;
  flows: LoginFlowsRepository;
  codes: OneTimeCodesRepository;
  throttle: ThrottleRepository;
  clock: Clock;
  log: Logger;
}

export class Maintenance {
  readonly #deps: MaintenanceDeps;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: MaintenanceDeps) {
    this.#deps = deps;
  }

  start(intervalMs: number): void {
    const run = () => {
      this.#running ??= this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.#deps.log.warn({ err }, 'maintenance pass failed'))
        .finally(() => {
          this.#running = undefined;
        });
    };
    this.#timer = setInterval(run, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async runOnce(): Promise<{ payloads: number; flows: number; codes: number; throttles: number }> {
    const now = this.#deps.clock.now();
    let payloads = 0;
    // In batches, so a large backlog never holds one long transaction.
    for (let batch = await this.#deps.payloads.deleteExpired(now); batch > 0; batch = await this.#deps.payloads.deleteExpired(now)) {
      payloads += batch;
    }
    const flows = await this.#deps.flows.deleteExpired(now);
    const codes = await this.#deps.codes.deleteExpired(new Date(now.getTime() - 3600_000));
    // Counters idle for a day are of no use; hard locks stay until an operator lifts them.
    const throttles = await this.#deps.throttle.deleteStale(new Date(now.getTime() - 24 * 3600_000));
    if (payloads + flows + codes + throttles > 0) this.#deps.log.info({ payloads, flows, codes, throttles }, 'expired rows deleted');
    return { payloads, flows, codes, throttles };
  }
}
