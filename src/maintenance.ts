/**
 * Housekeeping that any replica may run at any time (every statement is idempotent): expired
 * provider artefacts, sign-in flows, enrollments, pending changes, portal sessions, one-time
 * codes, each factor's own expired rows (its `maintain`), and requests made in a username's name (a reset's code, an unlock link) are deleted.
 * Codes and requests are kept an hour past expiry because the hourly caps count them; idle
 * throttle counters after a day.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Repos } from './db/repositories/index.ts';
import type { FactorRegistry } from './factors/factor.ts';

export interface MaintenanceDeps {
  repos: Repos;
  /** Each factor deletes its own expired rows (a phone's challenges). */
  factors: FactorRegistry;
  clock: Clock;
  log: Logger;
  /** Portal sessions idle this long are over (and deleted). */
  portalIdleSeconds: number;
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

  async runOnce(): Promise<{ payloads: number; flows: number; enrollments: number; sessions: number; codes: number; throttles: number }> {
    const { repos, clock, log } = this.#deps;
    const now = clock.now();
    let payloads = 0;
    // In batches, so a large backlog never holds one long transaction.
    for (let batch = await repos.payloads.deleteExpired(now); batch > 0; batch = await repos.payloads.deleteExpired(now)) {
      payloads += batch;
    }
    const flows = await repos.signIns.deleteExpired(now);
    const enrollments = (await repos.enrollments.deleteExpired(now)) + (await repos.pendingChanges.deleteExpired(now));
    const sessions = await repos.portalSessions.deleteExpired(now, new Date(now.getTime() - this.#deps.portalIdleSeconds * 1000));
    const hourAgo = new Date(now.getTime() - 3600_000);
    let codes = (await repos.codes.deleteExpired(hourAgo)) + (await repos.recovery.deleteExpired(hourAgo));
    for (const factor of this.#deps.factors.all()) codes += (await factor.maintain?.(repos, hourAgo)) ?? 0;
    // Counters idle for a day are of no use; hard locks stay until an operator lifts them.
    const throttles = await repos.throttle.deleteStale(new Date(now.getTime() - 24 * 3600_000));
    if (payloads + flows + enrollments + sessions + codes + throttles > 0) log.info({ payloads, flows, enrollments, sessions, codes, throttles }, 'expired rows deleted');
    return { payloads, flows, enrollments, sessions, codes, throttles };
  }
}
