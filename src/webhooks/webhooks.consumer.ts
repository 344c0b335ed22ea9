import type { AppContext } from '../context';
import { type EventConsumer, markProcessed, wasProcessed } from '../messaging/consumer';
import { type DomainEventMessage, isPublicEventType } from '../messaging/domain-events';
import type { WebhookDeliveryJob } from '../messaging/messages';
import { holdEvents } from './circuit-breaker';
import { activeWebhookEndpoints, type WebhookEndpoint } from './webhook-endpoints';
import { webhookJobId, webhookJobOptions } from './webhook-jobs';

async function subscribedEndpoints(ctx: AppContext, type: string): Promise<WebhookEndpoint[]> {
  const endpoints = await activeWebhookEndpoints(ctx);
  return endpoints.filter((e) => e.events.includes(type) || e.events.includes('*'));
}

/**
 * Fans an event out to the endpoints subscribed to it: one job per endpoint on the `webhooks` queue,
 * or, for an endpoint whose circuit is open, a row in its PostgreSQL backlog (circuit-breaker.ts).
 * With no endpoint subscribed it costs nothing (the endpoint list is cached) and records nothing. Otherwise the jobs are added
 * *before* the event is recorded as processed, with deterministic ids, so a crash in between re-adds
 * the same jobs (BullMQ ignores a known id) rather than losing them.
 */
export const webhooksConsumer: EventConsumer = {
  name: 'webhooks',
  handles: (event) => isPublicEventType(event.type),
  // Only when an endpoint subscribes (the acknowledgement check forgets endpoints removed meanwhile).
  acknowledges: async (ctx, event) =>
    isPublicEventType(event.type) && (await subscribedEndpoints(ctx, event.type)).length > 0,
  apply: async (ctx, event: DomainEventMessage) => {
    const endpoints = await subscribedEndpoints(ctx, event.type);
    if (endpoints.length === 0) return 'skipped';
    const em = ctx.orm.em.fork();
    if (await wasProcessed(em, 'webhooks', event.id)) return 'duplicate';
    const body = { id: event.id, type: event.type, occurredAt: event.occurredAt, data: event.data };
    const open = endpoints.filter((e) => !e.paused);
    if (open.length > 0) {
      await ctx.queues.webhooks.addBulk(
        open.map(({ id: webhookId }) => ({
          name: event.type,
          data: { webhookId, event: body } satisfies WebhookDeliveryJob,
          opts: webhookJobOptions(ctx, webhookJobId(event.id, webhookId)),
        })),
      );
    }
    await holdEvents(
      em,
      endpoints.filter((e) => e.paused).map((e) => ({ webhookId: e.id, event: body })),
    );
    return (await markProcessed(em, 'webhooks', event.id)) ? 'applied' : 'duplicate';
  },
};
