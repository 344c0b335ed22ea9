import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { preparedStatement, query, run, sql } from '../db/sql';
import type { Logger } from '../logger';
import { inSpan } from '../tracing/tracing';
import type { DomainEventMessage } from './domain-events';
import { observeOutboxLag } from './event-metrics';

/** applied: it changed something now; duplicate: an earlier delivery applied it; skipped: not for it. */
export type ConsumerOutcome = 'applied' | 'duplicate' | 'skipped';

/**
 * One consumer of domain events. The events worker offers it every event; it must be idempotent by
 * event id (SPEC §8.5): a redelivery, or the same event under another job id, changes nothing.
 */
export interface EventConsumer {
  /** Its name in processed_messages (and the `consumer` label of the lag metric). */
  name: string;
  handles: (event: DomainEventMessage) => boolean;
  /**
   * Whether applying `event` leaves a processed_messages row under `name` (its acknowledgement). The
   * relay records the consumers that must acknowledge an event and delivers it again until they have.
   * Absent: the consumer never acknowledges (its effect is best-effort and repeated anyway).
   */
  acknowledges?: (ctx: AppContext, event: DomainEventMessage) => boolean | Promise<boolean>;
  apply: (ctx: AppContext, event: DomainEventMessage, log: Logger) => Promise<ConsumerOutcome>;
  /**
   * Optional: applies many events (all of them handled, none yet applied by it as far as the caller
   * knows) with as few statements as it can, each still at most once. An events job hands its
   * events to it together.
   */
  applyMany?: (
    ctx: AppContext,
    events: DomainEventMessage[],
    log: Logger,
    /** The id of the events job that carries them, when they come in one. */
    eventsJobId?: string,
  ) => Promise<Map<string, ConsumerOutcome>>;
}

/** Offers a job's events to a consumer that applies many at once; a failure fails the job. */
export async function offerEvents(
  ctx: AppContext,
  events: DomainEventMessage[],
  log: Logger,
  consumer: EventConsumer,
  eventsJobId?: string,
): Promise<void> {
  const handled = events.filter((e) => consumer.handles(e));
  const applyMany = consumer.applyMany;
  if (handled.length === 0 || !applyMany) return;
  const types = [...new Set(handled.map((e) => e.type))].join('+');
  const outcomes = await inSpan(
    `consume ${types} (${consumer.name})`,
    {
      'shop.consumer': consumer.name,
      'shop.event.id': handled.map((e) => e.id).join(','),
      'shop.event.type': types,
      'shop.events': handled.length,
    },
    () => applyMany(ctx, handled, log, eventsJobId),
  ).catch((error: unknown) => {
    log.warn(
      { consumer: consumer.name, eventsJobId, events: handled.length, eventTypes: types, err: String(error) },
      'consumer failed',
    );
    throw error;
  });
  for (const event of handled) {
    if (outcomes.get(event.id) === 'applied') observeOutboxLag(consumer.name, event.occurredAt);
  }
}

/**
 * Runs `write` in one transaction that first records (consumer, event id) in processed_messages. A
 * concurrent delivery of the same event waits on that row and then finds it: `write` runs once.
 */
export async function applyOnce(
  ctx: AppContext,
  consumer: string,
  event: DomainEventMessage,
  write: (tx: EntityManager) => Promise<void>,
): Promise<ConsumerOutcome> {
  return ctx.orm.em.fork().transactional(async (tx: EntityManager) => {
    if (!(await markProcessed(tx, consumer, event.id))) return 'duplicate';
    await write(tx);
    return 'applied';
  });
}

/** Inserts the processed-message row; false when it was there already. */
async function markProcessed(em: EntityManager, consumer: string, eventId: string): Promise<boolean> {
  const inserted = await run(
    em,
    sql`insert into processed_messages (consumer, message_id, processed_at)
        values (${consumer}, ${eventId}, clock_timestamp()) on conflict do nothing`,
  );
  return inserted === 1;
}

/** Which of these events the consumer has recorded already. */
export async function processedAmong(
  em: EntityManager,
  consumer: string,
  eventIds: string[],
): Promise<Set<string>> {
  const rows = await query<Row<'processed_messages', 'message_id'>>(
    em,
    preparedStatement(sql`select message_id from processed_messages
        where consumer = ${consumer} and message_id = any(${eventIds}::text[])`),
  );
  return new Set(rows.map((r) => r.message_id));
}

/** Inserts the processed-message rows in one statement; returns the events this call recorded. */
export async function markAllProcessed(
  em: EntityManager,
  consumer: string,
  eventIds: string[],
): Promise<Set<string>> {
  const rows = await query<Row<'processed_messages', 'message_id'>>(
    em,
    preparedStatement(sql`insert into processed_messages (consumer, message_id, processed_at)
        select ${consumer}, e, clock_timestamp() from unnest(${eventIds}::text[]) as e
        on conflict do nothing returning message_id`),
  );
  return new Set(rows.map((r) => r.message_id));
}

/**
 * Offers one event to every consumer that handles it, side by side. If any fails, the job fails and
 * BullMQ retries it; the consumers that had applied it find their processed-message record and skip,
 * so only the failed one does its work again.
 */
export async function offerEvent(
  ctx: AppContext,
  event: DomainEventMessage,
  log: Logger,
  consumers: EventConsumer[],
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
    const about = {
      eventId: event.id,
      eventType: event.type,
      aggregate: `${event.aggregateType}:${event.aggregateId}`,
    };
    for (const [name, reason] of failed)
      log.warn({ consumer: name, ...about, err: String(reason) }, 'consumer failed');
    // The first cause in the message: Bull Board shows a job's failedReason, not the errors inside.
    throw new AggregateError(
      failed.map(([, reason]) => reason),
      `event ${event.id} (${event.type}) failed in ${failed.map(([name]) => name).join(', ')}: ${String(failed[0]![1])}`,
    );
  }
  return Object.fromEntries(
    results.map((r, i) => [interested[i]!.name, (r as PromiseFulfilledResult<string>).value]),
  );
}
