import type { ResultRow } from '../scenario';
import type { LoadResult } from './load';

/** p50/p95/p99 rows of a phase, with the raw ceiling's percentiles beside them when there is one. */
export function latencyRows(
  load: LoadResult,
  options: { raw?: LoadResult; rawWhat?: string; p95Target?: number; label?: string; outcome?: string } = {},
): ResultRow[] {
  const mine = options.outcome ? (load.latencyByOutcome[options.outcome] ?? load.latency) : load.latency;
  const label = options.label ? `${options.label} ` : '';
  return (['p50', 'p95', 'p99'] as const).map((p) => {
    const row: ResultRow = { metric: `${label}latency ${p}`, value: round(mine[p]), unit: 'ms' };
    if (options.raw)
      row.raw = { value: round(options.raw.latency[p]), unit: 'ms', what: options.rawWhat ?? 'raw' };
    if (p === 'p95' && options.p95Target !== undefined) {
      row.target = { text: `< ${options.p95Target} ms`, met: mine.p95 < options.p95Target };
    }
    return row;
  });
}

/** "201×9,512 409×3" — every outcome of a phase, for the table. */
export function outcomeSummary(load: LoadResult): string {
  return Object.entries(load.outcomes)
    .map(([outcome, n]) => `${outcome}×${n.toLocaleString('en-US')}`)
    .join(' ');
}

/** Completed units of a given outcome per second of the measured window. */
export function rateOf(load: LoadResult, outcome: string): number {
  return (load.outcomes[outcome] ?? 0) / load.elapsedS;
}

export const round = (n: number, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
