import { type JobsOptions, Queue } from 'bullmq';
import { bullTelemetry } from '../tracing/tracing';
import type { Redis } from './redis';

/** One queue per actor kind (their mailboxes), plus outbox deliveries and webhooks (SPEC §4). */
export const QUEUE_NAMES = ['order', 'payment', 'inventory', 'coupon', 'events', 'webhooks'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type Queues = Record<QueueName, Queue>;

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

export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:bull`;
}

/** Producers share one fail-fast connection: a request never hangs on a dead Redis. */
export function createQueues(
  connection: Redis,
  redisPrefix: string,
  jobOptions: Partial<Record<QueueName, JobsOptions>> = {},
  removeOnFail: JobsOptions['removeOnFail'] = DEFAULT_JOB_OPTIONS.removeOnFail,
): Queues {
  const prefix = bullPrefix(redisPrefix);
  return Object.fromEntries(
    QUEUE_NAMES.map((name) => {
      const defaultJobOptions = { ...(jobOptions[name] ?? DEFAULT_JOB_OPTIONS), removeOnFail };
      const queue = new Queue(name, { connection, prefix, defaultJobOptions, ...bullTelemetry() });
      queue.on('error', () => undefined);
      return [name, queue];
    }),
  ) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** The 'capped' backoff of DEFAULT_JOB_OPTIONS: exponential from 50 ms, never more than 5 s. */
export function cappedBackoff(attemptsMade: number): number {
  return Math.min(50 * 2 ** Math.max(0, attemptsMade - 1), 5000);
}
