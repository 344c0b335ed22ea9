import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import { failedJobRetention } from '../messaging/queues';

/** A delivery's job id: one event to one endpoint (so a repeated fan-out adds nothing). */
export const webhookJobId = (eventId: string, webhookId: string) => `${eventId}-${webhookId}`;

/** Retries with exponential backoff (WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_MS); bounded retention. */
export function webhookJobOptions(ctx: AppContext, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: ctx.config.webhookMaxAttempts,
    backoff: { type: 'exponential', delay: ctx.config.webhookRetryBaseMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: failedJobRetention(ctx.config),
  };
}
