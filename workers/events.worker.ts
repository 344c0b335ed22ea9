import type { AppContext } from '../src/context';
import type { Logger } from '../src/logger';
import { type EventConsumer, offerEvent } from '../src/messaging/consumer';
import { type DomainEventMessage, EventsJobSchema, parseDomainEvent } from '../src/messaging/domain-events';
import { notificationsConsumer } from '../src/notifications/notifications.consumer';
import { orderStatusConsumer } from '../src/orders/order-status.consumer';
import { salesStatsConsumer } from '../src/stats/sales-stats.consumer';
import { webhooksConsumer } from '../src/webhooks/webhooks.consumer';
import type { QueueWorkerDefinition } from './runtime';

/** Every consumer of domain events; each is idempotent by event id on its own. */
export const EVENT_CONSUMERS: EventConsumer[] = [
  orderStatusConsumer,
  notificationsConsumer,
  salesStatsConsumer,
  webhooksConsumer,
];

/**
 * For each event, the consumers that must acknowledge it (EventConsumer.acknowledges): decided in
 * memory when the relay delivers it (the webhook endpoints are cached), so it costs no round trip.
 * A malformed event is dropped by the events worker: nobody acknowledges it.
 */
export async function expectedAcknowledgements(
  ctx: AppContext,
  events: unknown[],
  consumers: EventConsumer[] = EVENT_CONSUMERS,
): Promise<string[][]> {
  return Promise.all(
    events.map(async (raw) => {
      const { event } = parseDomainEvent(raw);
      const names: string[] = [];
      if (!event) return names;
      for (const consumer of consumers)
        if (consumer.acknowledges && (await consumer.acknowledges(ctx, event))) names.push(consumer.name);
      return names;
    }),
  );
}

/** Offers one event to every consumer that handles it (src/messaging/consumer.ts: offerEvent). */
export const dispatchEvent = (
  ctx: AppContext,
  event: DomainEventMessage,
  log: Logger,
  consumers: EventConsumer[] = EVENT_CONSUMERS,
) => offerEvent(ctx, event, log, consumers);

/**
 * The `events` queue: domain events delivered by the outbox relay, a transaction's events per job
 * (`{ events: [...] }`; a lone event as the job data is accepted too). They are offered in order; a
 * failure fails the job and its retry skips what each consumer already applied.
 */
export const eventsWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'events',
  process: async (ctx, job, log) => {
    const batch = EventsJobSchema.safeParse(job.data);
    const events = batch.success ? batch.data.events : [job.data];
    const outcomes: Record<string, Record<string, string>> = {};
    for (const raw of events) {
      const { event, issues } = parseDomainEvent(raw);
      if (!event) {
        log.error({ data: raw, issues }, 'malformed event; dropped');
        continue;
      }
      outcomes[event.id] = await dispatchEvent(
        ctx,
        event,
        log.child({ eventId: event.id, event: event.type }),
      );
    }
    return outcomes;
  },
};
