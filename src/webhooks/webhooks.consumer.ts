import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import { type EventConsumer, markProcessed, wasProcessed } from '../messaging/consumer';
import { type DomainEventMessage, isPublicEventType } from '../messaging/domain-events';
import type { WebhookDeliveryJob } from '../messaging/messages';
import { activeWebhookEndpoints } from './webhook-endpoints';

export const webhookJobId = (eventId: string, webhookId: string) => `${eventId}-${webhookId}`;

export function webhookJobOptions(ctx: AppContext, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: ctx.config.webhookMaxAttempts,
    backoff: { type: 'exponential', delay: ctx.config.webhookRetryBaseMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

async function subscribedEndpoints(ctx: AppContext, type: string): Promise<string[]> {
  const endpoints = await activeWebhookEndpoints(ctx);
  return endpoints.filter((e) => e.events.includes(type) || e.events.includes('*')).map((e) => e.id);
}

/**
 * Fans an event out to the endpoints subscribed to it: one job per endpoint on the `webhooks` queue.
 * With no endpoint subscribed it costs nothing (the endpoint list is cached) and records nothing. Otherwise the jobs are added
 * *before* the event is recorded as processed, with deterministic ids, so a crash in between re-adds
 * the same jobs (BullMQ ignores a known id) rather than losing them.
 */
export const webhooksConsumer: EventConsumer = {
  name: 'webhooks',
  handles: (event) => isPublicEventType(event.type),
  apply: async (ctx, event: DomainEventMessage) => {
    const endpoints = await subscribedEndpoints(ctx, event.type);
    if (endpoints.length === 0) return 'skipped';
    const em = ctx.orm.em.fork();
    if (await wasProcessed(em, 'webhooks', event.id)) return 'duplicate';
    const body = { id: event.id, type: event.type, occurredAt: event.occurredAt, data: event.data };
    await ctx.queues.webhooks.addBulk(
      endpoints.map((webhookId) => ({
        name: event.type,
        data: { webhookId, event: body } satisfies WebhookDeliveryJob,
        opts: webhookJobOptions(ctx, webhookJobId(event.id, webhookId)),
      })),
    );
    return (await markProcessed(em, 'webhooks', event.id)) ? 'applied' : 'duplicate';
  },
};
