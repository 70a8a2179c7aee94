/**
 * What a step looks like from outside kapu, apart from its page: the statements it sent the
 * database (a counter, not a timer) and what it changed in the counters /metrics serves (read
 * from the same registry; latency and process metrics left out, as they are no counts of events).
 */
import type { Deps } from '../../src/deps.ts';

export interface Observed<T> {
  outcome: T;
  statements: number;
  /** Counters that moved, by name and labels, with how much. */
  metrics: Record<string, number>;
}

async function counters(deps: Deps): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const metric of await deps.metrics.registry.getMetricsAsJSON()) {
    // Statements are compared on their own; latency is a timer.
    if (!metric.name.startsWith('kapu_') || metric.name.startsWith('kapu_http_request_duration') || metric.name.startsWith('kapu_db_')) continue;
    for (const v of metric.values) out.set(`${metric.name}${JSON.stringify(v.labels)}`, v.value);
  }
  return out;
}

export async function observed<T>(deps: Deps, step: () => Promise<T>): Promise<Observed<T>> {
  const before = await counters(deps);
  const sent = deps.dbStats.statements;
  const outcome = await step();
  const statements = deps.dbStats.statements - sent;
  const metrics: Record<string, number> = {};
  for (const [key, value] of await counters(deps)) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) metrics[key] = delta;
  }
  return { outcome, statements, metrics };
}
