import type { Job } from 'bullmq';
import type { AppContext } from '../src/context';
import type { Logger } from '../src/logger';
import type { EventConsumer } from '../src/messaging/consumer';
import type { DomainEventMessage } from '../src/messaging/domain-events';
import { observeOutboxLag } from '../src/messaging/event-metrics';
import { notificationsConsumer } from '../src/notifications/notifications.consumer';
import { inSpan } from '../src/observability/tracing';
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
 * Offers one event to every consumer that handles it, side by side. If any fails, the job fails and
 * BullMQ retries it; the consumers that had applied it find their processed-message record and skip,
 * so only the failed one does its work again.
 */
export async function dispatchEvent(
  ctx: AppContext,
  event: DomainEventMessage,
  log: Logger,
  consumers: EventConsumer[] = EVENT_CONSUMERS,
): Promise<Record<string, string>> {
  const interested = consumers.filter((c) => c.handles(event));
  const results = await Promise.allSettled(
    interested.map(async (consumer) => {
      const outcome = await inSpan(
        `consume ${event.type} (${consumer.name})`,
        { 'shop.consumer': consumer.name, 'shop.event.id': event.id, 'shop.event.type': event.type },
        () => consumer.apply(ctx, event, log),
      );
      if (outcome === 'applied') observeOutboxLag(consumer.name, event.occurredAt);
      return outcome;
    }),
  );
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [[interested[i]!.name, r.reason]] : [],
  );
  if (failed.length > 0) {
    for (const [name, reason] of failed) log.warn({ consumer: name, err: String(reason) }, 'consumer failed');
    throw new AggregateError(
      failed.map(([, reason]) => reason),
      `event ${event.id} (${event.type}) failed in ${failed.map(([name]) => name).join(', ')}`,
    );
  }
  return Object.fromEntries(
    results.map((r, i) => [interested[i]!.name, (r as PromiseFulfilledResult<string>).value]),
  );
}

/**
 * The `events` queue: domain events delivered by the outbox relay, a transaction's events per job
 * (`{ events: [...] }`; a lone event as the job data is accepted too). They are offered in order; a
 * failure fails the job and its retry skips what each consumer already applied.
 */
export const eventsWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'events',
  process: async (ctx, job: Job, log) => {
    const events = (job.data?.events ?? [job.data]) as DomainEventMessage[];
    const outcomes: Record<string, Record<string, string>> = {};
    for (const event of events) {
      if (!event?.id || !event.type || !event.data) {
        log.error({ data: event }, 'malformed event; dropped');
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
