/** The domain events' consumers, and how one `events` job offers its events to them. */
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { type EventConsumer, offerEvent, offerEvents } from '../messaging/consumer';
import { type DomainEventMessage, EventsJobSchema, parseDomainEvent } from '../messaging/domain-events';
import { notificationsConsumer } from '../notifications/notifications.consumer';
import { orderStatusConsumer } from '../orders/order-status.consumer';
import { salesStatsConsumer } from '../stats/sales-stats.consumer';
import { webhooksConsumer } from '../webhooks/webhooks.consumer';

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

/** Aggregates whose events are offered side by side within one job. */
const AGGREGATES_IN_PARALLEL = 8;

/**
 * One job of the `events` queue: domain events delivered by the outbox relay, a relay claim's events
 * per job (`{ events: [...] }`; a lone event as the job data is accepted too). One aggregate's events are
 * offered in their order; different aggregates side by side. A failure fails the job and its retry
 * skips what each consumer already applied.
 */
export async function offerEventsJob(
  ctx: AppContext,
  job: { id?: string | undefined; data: unknown },
  log: Logger,
): Promise<void> {
  const batch = EventsJobSchema.safeParse(job.data);
  const raws = batch.success ? batch.data.events : [job.data];
  const byAggregate = new Map<string, DomainEventMessage[]>();
  for (const raw of raws) {
    const { event, issues } = parseDomainEvent(raw);
    if (!event) {
      log.error({ data: raw, issues }, 'malformed event; dropped');
      continue;
    }
    const key = `${event.aggregateType}:${event.aggregateId}`;
    byAggregate.set(key, [...(byAggregate.get(key) ?? []), event]);
  }
  // Consumers that apply many at once get the job's events together; the others event by event.
  const together = EVENT_CONSUMERS.filter((c) => c.applyMany);
  const oneByOne = EVENT_CONSUMERS.filter((c) => !c.applyMany);
  const parsed = [...byAggregate.values()].flat();
  const queues = [...byAggregate.values()];
  const failures: unknown[] = [];
  const lane = async () => {
    for (let events = queues.shift(); events; events = queues.shift()) {
      try {
        for (const event of events) await dispatchEvent(ctx, event, log, oneByOne);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  const batched = together.map((consumer) =>
    offerEvents(ctx, parsed, log, consumer, job.id).catch((error) => {
      failures.push(error);
    }),
  );
  await Promise.all([
    ...batched,
    ...Array.from({ length: Math.min(AGGREGATES_IN_PARALLEL, queues.length) }, lane),
  ]);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} aggregates failed`);
}
