/** Waiting on kapu's mail outbox from a test. */
import type { Kapu } from '../../src/server.ts';

/**
 * Resolves once nothing is left to send (every mail sent or withdrawn), so no further mail can
 * arrive; rejects after `timeoutMs`. A mail is recorded as sent a moment after the server took it.
 */
export async function outboxDrained(kapu: Kapu, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await kapu.deps.repos.outbox.pendingCount()) > 0) {
    if (Date.now() > until) throw new Error(`mail still waiting in the outbox after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
