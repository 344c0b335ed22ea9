import { WEBHOOK_BATCH, WebhookBatchSchema, WebhookDeliverySchema } from '../src/messaging/messages';
import { parseWith } from '../src/messaging/parse-job';
import { rescheduleProbes, runProbe, WEBHOOK_PROBE } from '../src/webhooks/circuit-breaker';
import { deliverWebhookBatch } from '../src/webhooks/webhook-batch';
import { deliverWebhook } from '../src/webhooks/webhook-delivery';
import type { QueueWorkerDefinition } from './runtime';

/**
 * The `webhooks` queue: signed POSTs of domain events to registered endpoints (job name = event type;
 * WEBHOOK_BATCH: the first attempt at several events to one endpoint),
 * and the circuit breaker's probes of paused endpoints (src/webhooks/circuit-breaker.ts).
 */
export const webhooksWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'webhooks',
  process: (ctx, job, log) => {
    if (job.name === WEBHOOK_PROBE) return runProbe(ctx, job, log);
    if (job.name === WEBHOOK_BATCH)
      return deliverWebhookBatch(
        ctx,
        job,
        parseWith(WebhookBatchSchema, 'webhooks', job.name, job.data),
        log,
      );
    return deliverWebhook(ctx, job, parseWith(WebhookDeliverySchema, 'webhooks', job.name, job.data), log);
  },
  // Probes live in Redis: a restarted Redis gets them back from the paused endpoints' rows.
  onStart: rescheduleProbes,
  refreshEveryMs: (ctx) => Math.max(5000, Math.min(ctx.config.webhookBreakerPauseMs, 60_000)),
};
