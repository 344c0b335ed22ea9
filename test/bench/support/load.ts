import { type LatencySummary, Samples, summarize } from './stats';

/**
 * One unit of work of a virtual user. It resolves with an outcome label (an HTTP status such as
 * "201", or "ok"); a thrown error is counted as `error:<code>` and the user keeps going.
 */
export type Task = (vu: number, seq: number) => Promise<string>;

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  /** Work done before the measured window: not counted in any figure. */
  warmupMs: number;
  /** Called once when the measured window opens (the harness starts its CPU sampling there). */
  onMeasureStart?: () => void;
  /** Awaited when the last user has finished, before the caller tears anything down. */
  onMeasureEnd?: () => Promise<void>;
  /**
   * A fixed workload instead of a timed one: no unit starts once this many measured units have
   * started (e.g. exactly 10,000 coupon requests); `durationMs` still bounds the window.
   */
  maxUnits?: number;
  /** Sees every measured completion (times in ms relative to the measured window's start). */
  onResult?: (outcome: string, startMs: number, endMs: number) => void;
}

export interface LoadResult {
  concurrency: number;
  /** Wall time from the window's start to the last measured completion, in seconds. */
  elapsedS: number;
  completed: number;
  /** Completed units of work per second (every outcome). */
  throughput: number;
  outcomes: Record<string, number>;
  latency: LatencySummary;
  latencyByOutcome: Record<string, LatencySummary>;
}

/**
 * A closed loop: `concurrency` virtual users, each starting its next unit of work when the previous
 * one finishes, for warm-up + duration. Every unit that *starts* inside the measured window is
 * measured (including the ones that finish after it closes), so slow requests are not dropped.
 */
export async function runClosedLoop(task: Task, options: LoadOptions): Promise<LoadResult> {
  const all = new Samples();
  const byOutcome = new Map<string, Samples>();
  const t0 = performance.now();
  const measureFrom = t0 + options.warmupMs;
  const stopAt = measureFrom + options.durationMs;
  let lastEnd = measureFrom;
  let measuredStarts = 0;
  const maxUnits = options.maxUnits ?? Number.POSITIVE_INFINITY;
  const opened = setTimeout(() => options.onMeasureStart?.(), options.warmupMs);

  const user = async (vu: number) => {
    for (let seq = 0; performance.now() < stopAt; seq++) {
      const start = performance.now();
      if (start >= measureFrom && measuredStarts++ >= maxUnits) break;
      let outcome: string;
      try {
        outcome = await task(vu, seq);
      } catch (error) {
        outcome = `error:${errorCode(error)}`;
        // A dead server answers instantly: don't spin.
        await new Promise((r) => setTimeout(r, 10));
      }
      const end = performance.now();
      if (start < measureFrom) continue;
      const ms = end - start;
      all.push(ms);
      let bucket = byOutcome.get(outcome);
      if (!bucket) {
        bucket = new Samples();
        byOutcome.set(outcome, bucket);
      }
      bucket.push(ms);
      if (end > lastEnd) lastEnd = end;
      options.onResult?.(outcome, start - measureFrom, end - measureFrom);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, vu) => user(vu)));
  clearTimeout(opened);
  await options.onMeasureEnd?.();

  const elapsedS = Math.max(lastEnd - measureFrom, 1) / 1000;
  const outcomes: Record<string, number> = {};
  const latencyByOutcome: Record<string, LatencySummary> = {};
  for (const [outcome, samples] of [...byOutcome].sort(([a], [b]) => (a < b ? -1 : 1))) {
    outcomes[outcome] = samples.length;
    latencyByOutcome[outcome] = summarize(samples.values());
  }
  return {
    concurrency: options.concurrency,
    elapsedS,
    completed: all.length,
    throughput: all.length / elapsedS,
    outcomes,
    latency: summarize(all.values()),
    latencyByOutcome,
  };
}

function errorCode(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown };
  return String(e?.code ?? e?.name ?? 'unknown');
}
