import { type ConnectionOptions, type Job, type Processor, Worker } from 'bullmq';
import { isFinalFailure, recordCommandFailure } from '../src/commands/command-failures';
import type { AppContext } from '../src/context';
import type { Logger } from '../src/logger';
import { orderShardNames } from '../src/messaging/order-shards';
import { allQueues, bullPrefix, cappedBackoff, type QueueName } from '../src/messaging/queues';
import { runWithQuietFetch, withQuietFetch } from '../src/messaging/quiet-fetch';
import { createRedis } from '../src/messaging/redis';
import { observeJob } from '../src/observability/job-observer';
import { annotateActiveSpan, bullTelemetry } from '../src/tracing/tracing';
import { watchForStalls } from './stall-watchdog';

/** A mailbox consumer: one processor that routes on `job.name`. */
export interface QueueWorkerDefinition {
  kind: 'queue';
  queue: QueueName;
  /** Jobs in flight at once in this process (I/O bound: tens are fine). */
  concurrency?: (ctx: AppContext) => number;
  process: (ctx: AppContext, job: Job, log: Logger) => Promise<unknown>;
  /**
   * Runs when the worker starts and again every `refreshEveryMs` (job schedulers live in Redis; a
   * flushed Redis loses them, so they are registered again).
   */
  onStart?: (ctx: AppContext) => Promise<void>;
  refreshEveryMs?: (ctx: AppContext) => number;
}

/** Something that is not a queue consumer but runs beside the workers (e.g. the outbox relay). */
export interface BackgroundDefinition {
  kind: 'background';
  start: (ctx: AppContext, log: Logger) => Promise<{ close: () => Promise<void> }>;
}

export type WorkerDefinition = QueueWorkerDefinition | BackgroundDefinition;

export interface RunningWorker {
  name: string;
  close: () => Promise<void>;
}

export async function startWorker(
  ctx: AppContext,
  name: string,
  def: WorkerDefinition,
): Promise<RunningWorker> {
  const log = ctx.log.child({ worker: name });
  if (def.kind === 'background') {
    const running = await def.start(ctx, log);
    return { name, close: running.close };
  }
  const processor: Processor = async (job) => {
    const started = performance.now();
    annotateActiveSpan({
      'shop.job.id': job.id ?? '',
      'shop.command': job.name,
      ...(job.data?.orderId ? { 'shop.order.id': String(job.data.orderId) } : {}),
      ...(job.data?.paymentId ? { 'shop.payment.id': String(job.data.paymentId) } : {}),
    });
    try {
      // The worker's own logger: a child logger per job costs on every job, and is only needed when one fails.
      const result = await def.process(ctx, job, log);
      observeJob(def.queue, job.name, (performance.now() - started) / 1000, 'completed');
      return result;
    } catch (error) {
      const outcome = isFinalFailure(job, error) ? 'given-up' : 'failed';
      observeJob(def.queue, job.name, (performance.now() - started) / 1000, outcome);
      const jobLog = log.child({
        jobId: job.id,
        job: job.name,
        ...(job.data?.orderId ? { orderId: job.data.orderId } : {}),
        ...(job.data?.paymentId ? { paymentId: job.data.paymentId } : {}),
        ...(job.data?.refundId ? { refundId: job.data.refundId } : {}),
      });
      jobLog.warn({ err: error, attemptsMade: job.attemptsMade }, 'job failed');
      await recordCommandFailure(ctx, job, error, jobLog);
      throw error;
    }
  };
  const queueNames = def.queue === 'order' ? consumedOrderShards(ctx.config) : [def.queue];
  const concurrency = def.concurrency?.(ctx) ?? ctx.config.workerConcurrency;
  // The process's concurrency is shared by the shards it consumes (its database pool is not larger).
  const perQueue = Math.max(1, Math.ceil(concurrency / queueNames.length));
  const open = (queueName: string) => {
    const connection = withQuietFetch(
      createRedis(
        ctx.config,
        'blocking',
        `${ctx.config.redisPrefix}:worker:${name}${queueName === def.queue ? '' : `:${queueName}`}`,
      ),
    );
    const worker = new Worker(queueName, processor, {
      connection: connection as ConnectionOptions,
      prefix: bullPrefix(ctx.config.redisPrefix, queueName, ctx.config.redisClusterNodes !== undefined),
      concurrency: perQueue,
      // A crashed worker's job runs again within lockDuration + stalledInterval; a job stalled more
      // often than this is failed (the sweepers then re-derive its work from PostgreSQL).
      lockDuration: ctx.config.workerLockMs,
      stalledInterval: ctx.config.workerStalledIntervalMs,
      maxStalledCount: 3,
      settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade) },
      autorun: false,
      ...bullTelemetry(),
    });
    worker.on('error', (err) => log.warn({ err: String(err), queue: queueName }, 'worker connection error'));
    const consumer = { queueName, worker, connection, lastActive: Date.now() };
    worker.on('active', () => {
      consumer.lastActive = Date.now();
    });
    runWithQuietFetch(worker);
    return consumer;
  };
  const consumers = queueNames.map(open);
  const stopWatching = ctx.config.redisClusterNodes
    ? watchForStalls({
        consumers,
        waitingCount: (queueName) =>
          allQueues(ctx.queues)
            .find((queue) => queue.name === queueName)!
            .getWaitingCount(),
        restart: (stalled) => {
          // Not awaited: the stalled worker's own close may wait on the connection it is stuck on.
          void stalled.worker.close(true).catch(() => undefined);
          stalled.connection.disconnect();
          consumers.splice(consumers.indexOf(stalled), 1, open(stalled.queueName));
        },
        stallMs: 3 * ctx.config.workerLockMs,
        log,
      })
    : () => undefined;
  const { onStart, refreshEveryMs } = def;
  let refresh: NodeJS.Timeout | undefined;
  if (onStart) {
    await onStart(ctx);
    if (refreshEveryMs) {
      refresh = setInterval(
        () => onStart(ctx).catch((err) => log.warn({ err: String(err) }, 'refresh failed')),
        refreshEveryMs(ctx),
      );
      refresh.unref();
    }
  }
  log.info({ queue: def.queue, queues: queueNames }, 'worker started');
  return {
    name,
    close: async () => {
      clearInterval(refresh);
      stopWatching();
      // Waits for jobs in flight to finish; nothing new is taken.
      await Promise.all(
        consumers.map(({ worker, queueName }) =>
          ctx.config.redisClusterNodes
            ? closeWithin(worker, ctx.config.workerLockMs, queueName, log)
            : worker.close(),
        ),
      );
      for (const { connection } of consumers) connection.disconnect();
    },
  };
}

/** The order shards this process consumes: all of them, or those WORKER_SHARDS names. */
export function consumedOrderShards(config: AppContext['config']): string[] {
  const names = orderShardNames(config.orderShards);
  return config.workerShards === 'all' ? names : config.workerShards.map((i) => names[i]!);
}

/**
 * On a cluster, a worker stuck on a master that died (see stall-watchdog.ts) may never finish a
 * graceful close: after the lock time — when its jobs in flight would be redelivered anyway — it is
 * closed by force.
 */
async function closeWithin(worker: Worker, ms: number, queueName: string, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = worker.close().then(() => true);
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const closed = await Promise.race([graceful, late]);
  clearTimeout(timer);
  if (closed) return;
  log.warn({ queue: queueName }, 'worker did not close in time: closing it by force');
  void worker.close(true).catch(() => undefined);
}
