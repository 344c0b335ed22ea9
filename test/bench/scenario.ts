import type { Redis } from 'ioredis';
import type { CapturedPlacement } from './raw/placement-capture';
import type { BenchDatabase } from './support/bench-database';
import type { WorkCounters } from './support/counters';
import type { CpuShare } from './support/cpu';
import type { HttpClient } from './support/http-client';
import type { LoadOptions, LoadResult } from './support/load';
import type { Seeder } from './support/seed';

/**
 * One benchmark scenario: it seeds what it needs, loads the running shop, measures the raw ceiling
 * of the same work in the same run, and reports rows for the table. Scenarios never share state
 * other than the buyer pool; each runs with the whole machine to itself (they run one after another).
 */
export interface Scenario {
  name: string;
  /** One line for `--help` and the README. */
  summary: string;
  /** Virtual users when `--concurrency` is not given. */
  defaultConcurrency: number;
  /**
   * Environment the shop must run with for this scenario (e.g. PAYMENT_GATEWAY_LATENCY_MS=0). One
   * server serves every selected scenario, so two scenarios asking different values is an error.
   */
  serverEnv?: Record<string, string>;
  run: (bench: BenchContext, concurrency: number) => Promise<ScenarioReport>;
}

/** What a scenario gets from the harness. */
export interface BenchContext {
  durationMs: number;
  warmupMs: number;
  /** The shop under test: its URL, its processes (API first, then any extra worker processes). */
  shop: { baseUrl: string; pids: number[]; env: Record<string, string> };
  database: BenchDatabase;
  /** The shop's Redis, its key prefix, and a client of the bench's own for readings. */
  redis: { url: string; prefix: string; client: Redis };
  seed: Seeder;
  /** A keep-alive client to the shop with `connections` sockets (closed by the harness). */
  http: (connections: number) => HttpClient;
  /**
   * Runs one load phase — `run` gets the harness's LoadOptions (duration, warm-up, CPU sampling
   * hook) completed with `load` — and measures where the CPU went during its measured window.
   * `serverPid` roots the process tree counted as "server": by default the shop's processes (idle
   * during a pg replay, which runs in the bench process), a raw-ceiling server's for its phase.
   * `units` only tells the progress note that the phase is a fixed workload (`maxUnits`), not a timed one.
   * `durationMs`: a measured window other than `--duration` (a scenario alternating shorter phases).
   */
  phase: (
    label: string,
    load: { concurrency: number; warmupMs?: number; durationMs?: number; units?: number },
    run: (options: LoadOptions) => Promise<LoadResult>,
    options?: { serverPid?: number },
  ) => Promise<Phase>;
  /** The worker's placement transaction, captured once per run (see raw/placement-capture.ts). */
  placementCapture: () => Promise<CapturedPlacement>;
  /** Progress on stderr. */
  note: (message: string) => void;
}

export interface Phase {
  label: string;
  load: LoadResult;
  /** Cores busy per process group during the measured window. */
  cpu: CpuShare;
  /** Database transactions and Redis commands during the measured window. */
  work: WorkCounters;
  /** What one completed operation cost: the figures issue 11 sets targets on. */
  perOperation: PerOperation;
}

export interface PerOperation {
  /** CPU of loadgen + server + PostgreSQL + Redis per operation ("other" excluded), and by process. */
  cpuMs: number | null;
  cpuMsByProcess: { loadgen: number; server: number; postgres: number; redis: number } | null;
  dbTx: number | null;
  redisCommands: number | null;
  /** The busiest Redis commands, per operation. */
  redisByCommand: Record<string, number>;
}

export interface ScenarioReport {
  rows: ResultRow[];
  phases: Phase[];
  /** Correctness checks made after the load (e.g. zero oversell), recorded in the JSON. */
  checks?: Record<string, unknown>;
}

/** One line of the table: `scenario | metric | value | raw ceiling | ratio | target`. */
export interface ResultRow {
  metric: string;
  value: number | string;
  unit?: string;
  raw?: { value: number; unit?: string; what: string };
  /** value / raw ceiling, for throughput rows. */
  ratio?: number;
  target?: { text: string; met: boolean };
}
