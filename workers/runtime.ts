import { type Job, type Processor, Worker } from 'bullmq';
import { recordCommandFailure } from '../src/commands/command-failures';
import type { AppContext } from '../src/context';
import type { Logger } from '../src/logger';
import { bullPrefix, cappedBackoff, type QueueName } from '../src/messaging/queues';
import { createRedis } from '../src/messaging/redis';
import { observeJob } from '../src/observability/job-observer';
import { annotateActiveSpan, bullTelemetry } from '../src/tracing/tracing';

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
    const jobLog = log.child({
      jobId: job.id,
      job: job.name,
      ...(job.data?.orderId ? { orderId: job.data.orderId } : {}),
    });
    annotateActiveSpan({
      'shop.job.id': job.id ?? '',
      'shop.command': job.name,
      ...(job.data?.orderId ? { 'shop.order.id': String(job.data.orderId) } : {}),
      ...(job.data?.paymentId ? { 'shop.payment.id': String(job.data.paymentId) } : {}),
    });
    try {
      const result = await def.process(ctx, job, jobLog);
      observeJob(def.queue, job.name, (performance.now() - started) / 1000, 'completed');
      return result;
    } catch (error) {
      observeJob(def.queue, job.name, (performance.now() - started) / 1000, 'failed');
      jobLog.warn({ err: error, attemptsMade: job.attemptsMade }, 'job failed');
      await recordCommandFailure(ctx, job, error, jobLog);
      throw error;
    }
  };
  const connection = createRedis(ctx.config.redisUrl, 'blocking', `${ctx.config.redisPrefix}:worker:${name}`);
  const worker = new Worker(def.queue, processor, {
    connection,
    prefix: bullPrefix(ctx.config.redisPrefix),
    concurrency: def.concurrency?.(ctx) ?? ctx.config.workerConcurrency,
    // A crashed worker's job runs again within lockDuration + stalledInterval; a job stalled more
    // often than this is failed (the sweepers then re-derive its work from PostgreSQL).
    lockDuration: ctx.config.workerLockMs,
    stalledInterval: ctx.config.workerStalledIntervalMs,
    maxStalledCount: 3,
    settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade) },
    autorun: true,
    ...bullTelemetry(),
  });
  worker.on('error', (err) => log.warn({ err: String(err) }, 'worker connection error'));
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
  log.info({ queue: def.queue }, 'worker started');
  return {
    name,
    close: async () => {
      clearInterval(refresh);
      // Waits for jobs in flight to finish; nothing new is taken.
      await worker.close();
      connection.disconnect();
    },
  };
}
