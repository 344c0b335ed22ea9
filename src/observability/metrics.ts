import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ORDER_STATUSES } from '../../machines/order.machine';
import { withTimeout } from '../async';
import { type StockGateDrift, setStockGateDriftObserver } from '../catalog/stock-gate-rebuild';
import type { AppContext } from '../context';
import { query, sql } from '../db/sql';
import {
  eventConsumerLagSeconds,
  outboxAlertedTotal,
  webhookAttemptsTotal,
} from '../messaging/event-metrics';
import { QUEUE_NAMES, queuesOf } from '../messaging/queues';
import { countOrdersByStatus } from '../orders/order-status-counts';
import { setGatewayLatencyObserver } from '../payments/gateway/gateway-observer';
import { type JobOutcome, setJobObserver } from './job-observer';
import { registerOperatorGauges, sharedWhileRunning } from './operator-gauges';

/** The queue states a scrape reports (BullMQ's getJobCounts names). */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A scrape never waits on a slow dependency longer than this; the source reports down instead. */
const SOURCE_TIMEOUT_MS = 2000;

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  observeJob: (queue: string, name: string, seconds: number, outcome: JobOutcome) => void;
  observeGatewayLatency: (seconds: number, operation: string, outcome: string) => void;
  /** Counters of the stock gate repaired by the reconciliation, and the units they were off by. */
  observeStockGateDrift: (drift: readonly StockGateDrift[]) => void;
  /** Stops feeding this registry from the process-wide hooks (jobs, gateway). */
  dispose: () => void;
}

// Every live registry in this process: job and gateway observations reach each (usually one).
const live = new Set<Metrics>();

/**
 * Records one call to the payment gateway: the payment actor's gateway reports every capture, refund
 * and lookup through src/payments/gateway/gateway-observer.ts, which is wired here.
 */
export function observeGatewayLatency(seconds: number, operation: string, outcome: string): void {
  for (const metrics of live) metrics.observeGatewayLatency(seconds, operation, outcome);
}

/**
 * The shop's Prometheus metrics, in a registry of their own (one per app, so parallel test files and
 * several apps in one process never collide). Gauges that mirror PostgreSQL and Redis are read at
 * scrape time with indexed queries; counters and histograms are fed as things happen.
 */
export function createMetrics(ctx: AppContext): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shop_' });

  const httpDuration = new Histogram({
    name: 'shop_http_request_duration_seconds',
    help: 'HTTP request latency by route template (e.g. /api/v1/orders/:id), method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'shop_job_duration_seconds',
    help: 'Time a worker spent on one job, by queue and outcome (completed or failed)',
    labelNames: ['queue', 'outcome'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const jobsProcessed = new Counter({
    name: 'shop_jobs_processed_total',
    help: 'Jobs processed by this process, by queue, job name and outcome (completed, or a failed attempt)',
    labelNames: ['queue', 'name', 'outcome'] as const,
    registers: [registry],
  });
  const jobsGivenUp = new Counter({
    name: 'shop_jobs_given_up_total',
    help: 'Jobs that failed for good in this process (last attempt used, or unrecoverable), by queue',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  // Every queue's series from the start: increase() sees the first failure, not only the second.
  for (const queue of QUEUE_NAMES) jobsGivenUp.inc({ queue }, 0);
  const gatewayDuration = new Histogram({
    name: 'shop_gateway_request_duration_seconds',
    help: 'Payment gateway call latency by operation (capture, refund, lookups) and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const gateRepairs = new Counter({
    name: 'shop_stock_gate_drift_repairs_total',
    help: 'Stock gate counters found to differ from PostgreSQL (stock − reserved) and repaired by the reconciliation',
    registers: [registry],
  });
  const gateDriftUnits = new Counter({
    name: 'shop_stock_gate_drift_units_total',
    help: 'Units by which repaired stock gate counters differed from PostgreSQL (absolute, summed)',
    registers: [registry],
  });
  const sourceUp = new Gauge({
    name: 'shop_scrape_source_up',
    help: '1 when the last scrape could read the source (postgres, redis), 0 when it failed or timed out',
    labelNames: ['source'] as const,
    registers: [registry],
    // Gauges collect concurrently: this one waits for the reads of the same scrape to report.
    collect: async () => {
      await Promise.all([readQueues(), readDatabase(), ...readOperatorGauges]);
    },
  });

  const readSource = async (source: 'postgres' | 'redis', read: () => Promise<void>) => {
    try {
      await withTimeout(read(), SOURCE_TIMEOUT_MS);
      sourceUp.set({ source }, 1);
    } catch (error) {
      sourceUp.set({ source }, 0);
      ctx.log.warn({ source, err: String(error) }, 'metrics source unavailable');
    }
  };

  const readQueues = sharedWhileRunning(() =>
    readSource('redis', async () => {
      // A sharded mailbox reports its shards' sum under its own name.
      const counts = await Promise.all(
        QUEUE_NAMES.map(async (name) => {
          const perShard = await Promise.all(
            queuesOf(ctx.queues, name).map((queue) => queue.getJobCounts(...QUEUE_JOB_STATES)),
          );
          return Object.fromEntries(
            QUEUE_JOB_STATES.map((state) => [state, perShard.reduce((sum, c) => sum + (c[state] ?? 0), 0)]),
          );
        }),
      );
      QUEUE_NAMES.forEach((queue, i) => {
        for (const state of QUEUE_JOB_STATES) queueJobs.set({ queue, state }, counts[i]?.[state] ?? 0);
      });
    }),
  );
  const queueJobs = new Gauge({
    name: 'shop_queue_jobs',
    help: 'Jobs in each queue by state (waiting, active, delayed, failed), read from Redis at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    collect: readQueues,
  });

  // One scrape reads PostgreSQL once for the three gauges below (they collect concurrently and share
  // the read): statuses from the counts the triggers on orders keep (order-status-counts.ts), outbox figures through outbox_events_status_created_index.
  const readDatabase = sharedWhileRunning(() =>
    readSource('postgres', async () => {
      const em = ctx.orm.em.fork();
      const [statuses, [outbox]] = await Promise.all([
        countOrdersByStatus(em),
        query<{ lag: number | null; alerted: number }>(
          em,
          sql`select extract(epoch from now() - (select min(created_at) from outbox_events
                                                 where status in ('PENDING', 'PROCESSING', 'FAILED')))::float8 as lag,
                     (select count(*) from outbox_events where status = 'ALERTED')::int as alerted`,
        ),
      ]);
      for (const status of ORDER_STATUSES) ordersByStatus.set({ status }, statuses.get(status) ?? 0);
      outboxLag.set(Math.max(0, outbox?.lag ?? 0));
      outboxAlerted.set(outbox?.alerted ?? 0);
    }),
  );
  const ordersByStatus = new Gauge({
    name: 'shop_orders',
    help: 'Orders by status (PENDING, PAID, CONFIRMED, CANCELLED), read from PostgreSQL at scrape time (kept by triggers, not counted)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect: readDatabase,
  });
  const outboxLag = new Gauge({
    name: 'shop_outbox_lag_seconds',
    help: 'Age of the oldest undelivered outbox event (PENDING, PROCESSING or FAILED awaiting retry; 0 when none)',
    registers: [registry],
    collect: readDatabase,
  });
  const outboxAlerted = new Gauge({
    name: 'shop_outbox_alerted_events',
    help: 'Outbox events that exhausted their delivery attempts (ALERTED) and need an operator',
    registers: [registry],
    collect: readDatabase,
  });

  const readOperatorGauges = registerOperatorGauges(registry, ctx, readSource);
  // The event pipeline counts in prom-client's process-wide registry (src/messaging/event-metrics.ts).
  for (const metric of [eventConsumerLagSeconds, outboxAlertedTotal, webhookAttemptsTotal]) {
    registry.registerMetric(metric);
  }

  const metrics: Metrics = {
    registry,
    httpDuration,
    observeJob: (queue, name, seconds, outcome) => {
      const attempt = outcome === 'completed' ? 'completed' : 'failed';
      jobDuration.observe({ queue, outcome: attempt }, seconds);
      // An events job is named by the event types it carries ('ORDER_PAID+PAYMENT_SUCCEEDED', in
      // arrival order): one label value for all of them, or the series multiply with every mix.
      const label = name.includes('+') ? 'EVENTS_BATCH' : name;
      jobsProcessed.inc({ queue, name: label, outcome: attempt });
      if (outcome === 'given-up') jobsGivenUp.inc({ queue });
    },
    observeGatewayLatency: (seconds, operation, outcome) =>
      gatewayDuration.observe({ operation, outcome }, seconds),
    observeStockGateDrift: (drift) => {
      gateRepairs.inc(drift.length);
      gateDriftUnits.inc(drift.reduce((sum, d) => sum + Math.abs(d.gate - d.postgres), 0));
    },
    dispose: () => {
      live.delete(metrics);
    },
  };
  live.add(metrics);
  setGatewayLatencyObserver((operation, outcome, seconds) =>
    observeGatewayLatency(seconds, operation, outcome),
  );
  setStockGateDriftObserver((drift) => {
    for (const m of live) m.observeStockGateDrift(drift);
  });
  setJobObserver((queue, name, seconds, outcome) => {
    for (const m of live) m.observeJob(queue, name, seconds, outcome);
  });
  return metrics;
}
