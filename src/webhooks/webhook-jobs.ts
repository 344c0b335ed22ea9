import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import { failedJobRetention } from '../messaging/queues';

/** A delivery's job id: one event to one endpoint (so a repeated fan-out adds nothing). */
export const webhookJobId = (eventId: string, webhookId: string) => `${eventId}-${webhookId}`;

/**
 * A batch's job id: the events of one events job to one endpoint. Named after the events job (the
 * outbox row's `job_id`), so the acknowledgement check can find it from any of its events.
 */
export const webhookBatchJobId = (eventsJobId: string, webhookId: string) =>
  `batch-${eventsJobId}-${webhookId}`;

/** Retries with exponential backoff (WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_MS); bounded retention. */
export function webhookJobOptions(ctx: AppContext, jobId: string, attemptsBefore = 0): JobsOptions {
  return {
    jobId,
    attempts: Math.max(1, ctx.config.webhookMaxAttempts - attemptsBefore),
    backoff: { type: 'exponential', delay: ctx.config.webhookRetryBaseMs },
    // A delivery taken over from a batch waits its first backoff, as a retry of it would.
    ...(attemptsBefore > 0 ? { delay: ctx.config.webhookRetryBaseMs } : {}),
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: failedJobRetention(ctx.config),
  };
}
