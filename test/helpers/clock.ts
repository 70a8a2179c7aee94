import type { Clock } from '../../src/clock.ts';

/**
 * Real time plus an offset that tests move forward. oidc-provider keeps real time, so kapu's
 * own rules (code lifetime, cool-down) are moved without freezing the protocol's clock.
 */
export class TestClock implements Clock {
  #offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }
  advance(seconds: number): void {
    this.#offsetMs += seconds * 1000;
  }
}
