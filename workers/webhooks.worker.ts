import { WebhookDeliverySchema } from '../src/messaging/messages';
import { parseWith } from '../src/messaging/parse-job';
import { deliverWebhook } from '../src/webhooks/webhook-delivery';
import type { QueueWorkerDefinition } from './runtime';

/** The `webhooks` queue: signed POSTs of domain events to registered endpoints (job name = event type). */
export const webhooksWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'webhooks',
  process: (ctx, job, log) =>
    deliverWebhook(ctx, job, parseWith(WebhookDeliverySchema, 'webhooks', job.name, job.data), log),
};
