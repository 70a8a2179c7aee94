/**
 * The bench's table: each of kapu's scenarios beside its reference measured in the same run,
 * and the ratio the issue sets a target for (sign-ins: to the argon2id ceiling; the refresh
 * grant and discovery: to a bare oidc-provider), with p99 at 70 % of the peak and peak RSS.
 */
import type { Measured } from './measure.ts';

export interface Reference {
  /** What the scenario is compared with, as printed. */
  name: string;
  /** The reference's operations per second per vCPU. */
  perVcpu: number;
  /** kapu's per-vCPU rate over the reference's (from alternating rounds where there are some). */
  ratio: number;
  /** The least ratio the issue accepts. */
  target: number;
}

export interface Line {
  row: Measured;
  reference: Reference | null;
  /** A reference row (the bare provider): no targets of its own. */
  isReference?: boolean;
}

/** The issue's bounds on every kapu scenario. */
export const P99_AT_70_LIMIT_MS = 150;
export const PEAK_RSS_LIMIT_MIB = 250;
/** The open loop's operations started this late (p99, ms): the generator set the pace. */
const GENERATOR_BEHIND_MS = 20;

const behind = (r: Measured) => r.lagAt70 !== null && r.lagAt70 > GENERATOR_BEHIND_MS;
/** The open loop's failures, in words: `12 of 1400 failed (/jwks: 408)`. */
const failures = (r: Measured) => (r.failedAt70 ? `${r.failedAt70.count} of ${r.failedAt70.of} failed (${r.failedAt70.first})` : '');

const f = (v: number | null | undefined, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));
const mark = (ok: boolean) => (ok ? 'met' : '**missed**');

export function table(lines: Line[]): string[] {
  return [
    '| scenario | ops/s (wall) | ops/s per vCPU | reference, ops/s per vCPU | ratio (target) | kapu CPU ms/op (event loop + pool) | Postgres CPU ms/op | DB xact/op | DB statements/op | p50 ms | p99 ms | p99 ms at 70 % | peak RSS MiB |',
    '|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...lines.map(({ row: r, reference: ref, isReference }) => {
      const ratio = ref ? `**${f(ref.ratio, 2)}** (≥ ${f(ref.target, 2)}: ${mark(ref.ratio >= ref.target)})` : '';
      const lag = behind(r) ? ` (generator ${f(r.lagAt70)} ms behind)` : '';
      const failed = r.failedAt70 ? ` (${failures(r)})` : '';
      const met = r.p99at70 !== null && r.p99at70 < P99_AT_70_LIMIT_MS && !r.failedAt70;
      const p99at70 = isReference ? `${f(r.p99at70)}${lag}${failed}` : `${f(r.p99at70)}${met ? '' : ' ✗'}${lag}${failed}`;
      const open = r.peakRssOpen !== null && r.peakRss !== null && r.peakRssOpen > r.peakRss + 5 ? ` (${f(r.peakRssOpen)} in the open loop)` : '';
      const rss = isReference || r.peakRss === null ? `${f(r.peakRss)}${open}` : `${f(r.peakRss)}${r.peakRss < PEAK_RSS_LIMIT_MIB ? '' : ' ✗'}${open}`;
      return `| ${r.scenario} | ${f(r.perSecond, 1)} | **${f(r.perVcpu, 1)}** | ${ref ? `${ref.name}: ${f(ref.perVcpu, 1)}` : ''} | ${ratio} | ${f(r.cpuMs, 2)} (${f(r.eventLoopCpuMs, 1)} + ${f(r.poolCpuMs, 1)}) | ${f(r.postgresCpuMs, 2)} | ${f(r.transactions, 1)} | ${f(r.statements, 1)} | ${f(r.p50)} | ${f(r.p99)} | ${p99at70} | ${rss} |`;
    }),
  ];
}

/** One line per target, met or missed, for the closing note. */
export function verdicts(lines: Line[]): string[] {
  const out: string[] = [];
  for (const { row, reference, isReference } of lines) {
    if (isReference) continue;
    if (reference) out.push(`- ${row.scenario}: ${f(reference.ratio, 2)} of ${reference.name} (target ≥ ${f(reference.target, 2)}): ${mark(reference.ratio >= reference.target)}`);
    const generator = behind(row) ? ` — the load generator itself started operations up to ${f(row.lagAt70)} ms late (p99): it, not kapu, set the pace` : '';
    if (row.p99at70 !== null && row.p99at70 >= P99_AT_70_LIMIT_MS) out.push(`- ${row.scenario}: p99 at 70 % of peak ${f(row.p99at70)} ms (target < ${P99_AT_70_LIMIT_MS}): **missed**${generator}`);
    if (row.failedAt70) out.push(`- ${row.scenario}: at 70 % of peak ${failures(row)}: **missed**${generator}`);
    if (row.peakRss !== null && row.peakRss >= PEAK_RSS_LIMIT_MIB) out.push(`- ${row.scenario}: peak RSS ${f(row.peakRss)} MiB (target < ${PEAK_RSS_LIMIT_MIB}): **missed**`);
    if (row.peakRssOpen !== null && row.peakRssOpen >= PEAK_RSS_LIMIT_MIB && (row.peakRss ?? 0) < PEAK_RSS_LIMIT_MIB) {
      out.push(`- ${row.scenario}: peak RSS ${f(row.peakRss)} MiB at peak rate, ${f(row.peakRssOpen)} MiB in the open loop${generator || ''}`);
    }
  }
  const own = lines.filter((l) => !l.isReference).map((l) => l.row);
  if (own.every((r) => (r.p99at70 === null || r.p99at70 < P99_AT_70_LIMIT_MS) && !r.failedAt70)) out.push(`- p99 at 70 % of peak < ${P99_AT_70_LIMIT_MS} ms in every scenario: met`);
  if (own.every((r) => r.peakRss === null || r.peakRss < PEAK_RSS_LIMIT_MIB)) out.push(`- peak RSS < ${PEAK_RSS_LIMIT_MIB} MiB in every scenario at its peak rate: met`);
  return out;
}
