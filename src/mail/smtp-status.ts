/**
 * Whether the mail server answers, as the sender and the operator need to know it. A probe is a
 * connection, the server's greeting and (with credentials) a login, then QUIT. The mail server
 * is probed at start, after a send fails for a reason that is not the mail's own, when another
 * replica says its state changed, and once a minute while it answers (so an outage is seen even
 * when no mail is being sent). While it does not answer, the probes come quickly (from a quarter
 * of a second, doubling, then every second), so mail leaves within seconds of its return.
 *
 * The operator hears of each change once: one warning when the server stops answering (however
 * many mails and probes fail meanwhile), one info line when it answers again.
 */
import type { Logger } from 'pino';
import { withTimeout } from '../clock.ts';

export type SmtpState = 'unknown' | 'up' | 'down';

export interface SmtpStatusOptions {
  /** The first probe after a failure, doubled on each failed probe up to `retryMaxMs`. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Between probes while the server answers. */
  checkMs: number;
  /** A probe that has not settled after this long failed (the transport's own timeouts come first). */
  probeTimeoutMs: number;
}

export const SMTP_STATUS_DEFAULTS: SmtpStatusOptions = { retryMinMs: 250, retryMaxMs: 1_000, checkMs: 60_000, probeTimeoutMs: 30_000 };

export interface SmtpStatusDeps {
  /** Resolves when the server answers, rejects when it does not; null: nothing to probe (always up). */
  probe: (() => Promise<unknown>) | null;
  log: Logger;
  /** Runs on every change between up and down (not on the first verdict when it is up). */
  onChange?: (state: 'up' | 'down') => void;
}

export class SmtpStatus {
  readonly #deps: SmtpStatusDeps;
  readonly #options: SmtpStatusOptions;
  #state: SmtpState;
  #probing: Promise<boolean> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #retryMs: number;
  #stopped = true;

  constructor(deps: SmtpStatusDeps, options: SmtpStatusOptions = SMTP_STATUS_DEFAULTS) {
    this.#deps = deps;
    this.#options = options;
    this.#retryMs = options.retryMinMs;
    this.#state = deps.probe ? 'unknown' : 'up';
  }

  get state(): SmtpState {
    return this.#state;
  }

  /** The server answered the last probe (until the first one has, this is false). */
  get up(): boolean {
    return this.#state === 'up';
  }

  /** Probes now, then keeps watching. */
  start(): void {
    this.#stopped = false;
    void this.probe();
  }

  stop(): Promise<unknown> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return this.#probing ?? Promise.resolve();
  }

  /**
   * Probes now (or joins the probe under way): true when the server answers. A send that failed
   * asks this to tell a refused mail from a server that is away.
   */
  probe(): Promise<boolean> {
    if (!this.#deps.probe) return Promise.resolve(true);
    this.#probing ??= this.#run().finally(() => {
      this.#probing = null;
      this.#schedule();
    });
    return this.#probing;
  }

  /** Another replica found the server `heard`: look again unless this replica sees the same. */
  heard(heard: string): void {
    if (this.#stopped || heard === this.#state) return;
    void this.probe();
  }

  async #run(): Promise<boolean> {
    let error: unknown = null;
    try {
      await withTimeout(this.#deps.probe!(), this.#options.probeTimeoutMs, 'SMTP probe');
    } catch (err) {
      error = err;
    }
    const before = this.#state;
    this.#state = error === null ? 'up' : 'down';
    if (this.#state === 'down') {
      if (before !== 'down') {
        this.#retryMs = this.#options.retryMinMs;
        this.#deps.log.warn({ err: describe(error) }, 'mail server unreachable: mail waits in the outbox and leaves once it answers');
      } else {
        this.#retryMs = Math.min(this.#retryMs * 2, this.#options.retryMaxMs);
      }
    } else if (before === 'down') {
      this.#deps.log.info('mail server answers again: the mail that waited is being sent');
    }
    if (before !== this.#state && !(before === 'unknown' && this.#state === 'up')) this.#deps.onChange?.(this.#state);
    return this.#state === 'up';
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.probe(), this.#state === 'up' ? this.#options.checkMs : this.#retryMs);
    this.#timer.unref();
  }
}

/** An error's class and message only: SMTP errors can echo commands, never the mail body. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
