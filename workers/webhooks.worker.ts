import { WebhookDeliverySchema } from '../src/messaging/messages';
import { parseWith } from '../src/messaging/parse-job';
import { rescheduleProbes, runProbe, WEBHOOK_PROBE } from '../src/webhooks/circuit-breaker';
import { deliverWebhook } from '../src/webhooks/webhook-delivery';
import type { QueueWorkerDefinition } from './runtime';

/**
 * The `webhooks` queue: signed POSTs of domain events to registered endpoints (job name = event type),
 * and the circuit breaker's probes of paused endpoints (src/webhooks/circuit-breaker.ts).
 */
export const webhooksWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'webhooks',
  process: (ctx, job, log) =>
    job.name === WEBHOOK_PROBE
      ? runProbe(ctx, job, log)
      : deliverWebhook(ctx, job, parseWith(WebhookDeliverySchema, 'webhooks', job.name, job.data), log),
  // Probes live in Redis: a restarted Redis gets them back from the paused endpoints' rows.
  onStart: rescheduleProbes,
  refreshEveryMs: (ctx) => Math.max(5000, Math.min(ctx.config.webhookBreakerPauseMs, 60_000)),
};
