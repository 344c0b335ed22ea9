import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import {
  type ConsumerOutcome,
  type EventConsumer,
  markAllProcessed,
  processedAmong,
} from '../messaging/consumer';
import { type DomainEventMessage, isPublicEventType } from '../messaging/domain-events';
import { WEBHOOK_BATCH, type WebhookBatchJob, type WebhookDeliveryJob } from '../messaging/messages';
import { holdEvents } from './circuit-breaker';
import { activeWebhookEndpoints, type WebhookEndpoint } from './webhook-endpoints';
import { webhookBatchJobId, webhookJobId, webhookJobOptions } from './webhook-jobs';

const CONSUMER = 'webhooks';

const subscribes = (endpoint: WebhookEndpoint, type: string) =>
  endpoint.events.includes(type) || endpoint.events.includes('*');

async function subscribedEndpoints(ctx: AppContext, type: string): Promise<WebhookEndpoint[]> {
  const endpoints = await activeWebhookEndpoints(ctx);
  return endpoints.filter((e) => subscribes(e, type));
}

/**
 * Fans events out to the endpoints subscribed to them: one job per event and endpoint on the
 * `webhooks` queue, or, for an endpoint whose circuit is open, a row in its PostgreSQL backlog
 * (circuit-breaker.ts). With no endpoint subscribed it costs nothing (the endpoint list is cached) and
 * records nothing. Otherwise the jobs are added *before* the events are recorded as processed, with
 * deterministic ids, so a crash in between re-adds the same jobs (BullMQ ignores a known id) rather
 * than losing them. An events job's events go together: one read of which were processed already, one
 * add of all their jobs, one backlog write, one processed-message write.
 */
export const webhooksConsumer: EventConsumer = {
  name: CONSUMER,
  handles: (event) => isPublicEventType(event.type),
  // Only when an endpoint subscribes (the acknowledgement check forgets endpoints removed meanwhile).
  acknowledges: async (ctx, event) =>
    isPublicEventType(event.type) && (await subscribedEndpoints(ctx, event.type)).length > 0,
  apply: async (ctx, event) => (await fanOut(ctx, [event])).get(event.id) ?? 'skipped',
  applyMany: (ctx, events, _log, eventsJobId) => fanOut(ctx, events, eventsJobId),
};

type WebhookBody = WebhookDeliveryJob['event'];
type WebhookJob = { name: string; data: WebhookBatchJob | WebhookDeliveryJob; opts: JobsOptions };

/**
 * One job per event and endpoint, except that an endpoint with several events of one events job gets
 * them in one WEBHOOK_BATCH job (named after that job, in their order): one job's cost, not one each.
 */
function deliveryJobs(
  ctx: AppContext,
  open: { endpoint: WebhookEndpoint; body: WebhookBody }[],
  eventsJobId: string | undefined,
): WebhookJob[] {
  const byEndpoint = new Map<string, WebhookBody[]>();
  for (const { endpoint, body } of open) {
    const events = byEndpoint.get(endpoint.id);
    if (events) events.push(body);
    else byEndpoint.set(endpoint.id, [body]);
  }
  return [...byEndpoint].flatMap(([webhookId, events]): WebhookJob[] =>
    events.length > 1 && eventsJobId !== undefined
      ? [
          {
            name: WEBHOOK_BATCH,
            data: { webhookId, events } satisfies WebhookBatchJob,
            opts: webhookJobOptions(ctx, webhookBatchJobId(eventsJobId, webhookId)),
          },
        ]
      : events.map((event) => ({
          name: event.type,
          data: { webhookId, event } satisfies WebhookDeliveryJob,
          opts: webhookJobOptions(ctx, webhookJobId(event.id, webhookId)),
        })),
  );
}

async function fanOut(
  ctx: AppContext,
  events: DomainEventMessage[],
  eventsJobId?: string,
): Promise<Map<string, ConsumerOutcome>> {
  const outcomes = new Map<string, ConsumerOutcome>();
  const endpoints = await activeWebhookEndpoints(ctx);
  const subscribed = events.flatMap((event) => {
    const to = endpoints.filter((e) => subscribes(e, event.type));
    if (to.length === 0) outcomes.set(event.id, 'skipped');
    return to.length > 0 ? [{ event, to }] : [];
  });
  if (subscribed.length === 0) return outcomes;
  const em = ctx.orm.em.fork();
  const processed = await processedAmong(
    em,
    CONSUMER,
    subscribed.map((s) => s.event.id),
  );
  const fresh = subscribed.filter((s) => {
    if (processed.has(s.event.id)) outcomes.set(s.event.id, 'duplicate');
    return !processed.has(s.event.id);
  });
  if (fresh.length === 0) return outcomes;
  const deliveries = fresh.flatMap(({ event, to }) => {
    const body = { id: event.id, type: event.type, occurredAt: event.occurredAt, data: event.data };
    return to.map((endpoint) => ({ endpoint, body }));
  });
  const jobs = deliveryJobs(
    ctx,
    deliveries.filter((d) => !d.endpoint.paused),
    eventsJobId,
  );
  if (jobs.length > 0) await ctx.queues.webhooks.addBulk(jobs);
  await holdEvents(
    em,
    deliveries.filter((d) => d.endpoint.paused).map((d) => ({ webhookId: d.endpoint.id, event: d.body })),
  );
  const recorded = await markAllProcessed(
    em,
    CONSUMER,
    fresh.map((s) => s.event.id),
  );
  for (const { event } of fresh) outcomes.set(event.id, recorded.has(event.id) ? 'applied' : 'duplicate');
  return outcomes;
}
