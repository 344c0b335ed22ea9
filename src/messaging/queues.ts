import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import { bullTelemetry } from '../tracing/tracing';
import { orderShard, orderShardNames } from './order-shards';
import { hashTag, isCluster, type Redis } from './redis';

/** One queue per actor kind (their mailboxes), plus outbox deliveries and webhooks (SPEC §4). */
export const QUEUE_NAMES = ['order', 'payment', 'inventory', 'coupon', 'events', 'webhooks'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export const isQueueName = (name: string): name is QueueName =>
  (QUEUE_NAMES as readonly string[]).includes(name);

/**
 * The mailboxes. `order` is sharded (ORDER_SHARDS queues): there is no `queues.order`, a producer
 * asks `mailboxFor(queues, 'order', data, jobId)`, which routes by the order's id.
 */
export type Queues = { [K in Exclude<QueueName, 'order'>]: Queue } & { orderShards: readonly Queue[] };

/**
 * Retries back off 50 ms, 100 ms, … up to 5 s, twenty times (about a minute): long enough to ride out
 * a database failover; a refusal by the machine is an answer and is never retried. Completed jobs are
 * kept an hour (at most 5,000) so a redelivery still dedupes by id; failures a day, at most 1,000 per
 * queue (FAILED_JOBS_KEEP_*): PostgreSQL, not the failed set, is what sweepers re-derive work from.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: 'capped' },
  removeOnComplete: { age: 3600, count: 5000 },
  removeOnFail: { age: 24 * 3600, count: 1000 },
};

/** How many failed jobs each queue keeps, and for how long: Redis memory stays bounded whatever fails. */
export function failedJobRetention(config: { failedJobsKeepCount: number; failedJobsKeepAgeS: number }) {
  return { count: config.failedJobsKeepCount, age: config.failedJobsKeepAgeS };
}

/**
 * The payment mailbox retries a failed gateway call PAYMENT_MAX_ATTEMPTS times in all, waiting
 * PAYMENT_RETRY_BASE_MS, then twice that, and so on. Set as the queue's default because its jobs are
 * added by the outbox relay, the stale-payment sweep and tests alike, and each must get the same policy.
 */
export function paymentJobOptions(config: {
  paymentMaxAttempts: number;
  paymentRetryBaseMs: number;
}): JobsOptions {
  return {
    ...DEFAULT_JOB_OPTIONS,
    attempts: config.paymentMaxAttempts,
    backoff: { type: 'exponential', delay: config.paymentRetryBaseMs },
  };
}

/**
 * BullMQ's key prefix of a queue. On a cluster each queue's prefix carries its own hash tag
 * (`shop:bull:{order.3}`): BullMQ's scripts touch several keys of a queue at once, which must share
 * a slot, and distinct tags let the queues — the order shards above all — spread over the nodes. A
 * single Redis keeps the untagged prefix, so the keys of jobs in flight stay where they were.
 */
export function bullPrefix(redisPrefix: string, queueName: string, cluster: boolean): string {
  return cluster ? `${redisPrefix}:bull:${hashTag(queueName)}` : `${redisPrefix}:bull`;
}

/** Producers share one fail-fast connection: a request never hangs on a dead Redis. */
export function createQueues(
  connection: Redis,
  redisPrefix: string,
  options: {
    orderShards?: number;
    jobOptions?: Partial<Record<QueueName, JobsOptions>>;
    removeOnFail?: JobsOptions['removeOnFail'];
  } = {},
): Queues {
  const cluster = isCluster(connection);
  const open = (kind: QueueName, name: string) => {
    const defaultJobOptions = {
      ...(options.jobOptions?.[kind] ?? DEFAULT_JOB_OPTIONS),
      removeOnFail: options.removeOnFail ?? DEFAULT_JOB_OPTIONS.removeOnFail,
    };
    const prefix = bullPrefix(redisPrefix, name, cluster);
    const queue = new Queue(name, {
      connection: connection as ConnectionOptions,
      prefix,
      defaultJobOptions,
      ...bullTelemetry(),
    });
    queue.on('error', () => undefined);
    return queue;
  };
  const unsharded = QUEUE_NAMES.filter((name) => name !== 'order').map((name) => [name, open(name, name)]);
  return {
    ...(Object.fromEntries(unsharded) as Omit<Queues, 'orderShards'>),
    orderShards: orderShardNames(options.orderShards ?? 1).map((name) => open('order', name)),
  };
}

/** THE routing of a job to its queue: an order job to its order's shard, any other to its mailbox. */
export function mailboxFor(queues: Queues, name: QueueName, data: unknown, jobId?: string | null): Queue {
  if (name !== 'order') return queues[name];
  return queues.orderShards[orderShard(queues.orderShards.length, data, jobId)]!;
}

/** Every queue of a mailbox (the shards of `order`), e.g. to look a job up by id alone. */
export function queuesOf(queues: Queues, name: QueueName): readonly Queue[] {
  return name === 'order' ? queues.orderShards : [queues[name]];
}

/** Every queue, shards included, in QUEUE_NAMES order (metrics, Bull Board, closing). */
export function allQueues(queues: Queues): Queue[] {
  return QUEUE_NAMES.flatMap((name) => queuesOf(queues, name));
}

/** The first queue of a mailbox holding a job with this id. */
export async function findJob(queues: Queues, name: QueueName, jobId: string) {
  for (const queue of queuesOf(queues, name)) {
    const job = await queue.getJob(jobId);
    if (job) return job;
  }
  return undefined;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(allQueues(queues).map((q) => q.close()));
}

/** The 'capped' backoff of DEFAULT_JOB_OPTIONS: exponential from 50 ms, never more than 5 s. */
export function cappedBackoff(attemptsMade: number): number {
  return Math.min(50 * 2 ** Math.max(0, attemptsMade - 1), 5000);
}

/** Adds jobs of one mailbox, each to its queue (one addBulk per shard). */
export async function addRoutedJobs(
  queues: Queues,
  name: QueueName,
  jobs: { name: string; data: unknown; opts: JobsOptions & { jobId: string } }[],
): Promise<void> {
  const byQueue = Map.groupBy(jobs, (job) => mailboxFor(queues, name, job.data, job.opts.jobId));
  await Promise.all([...byQueue].map(([queue, group]) => queue.addBulk(group)));
}
