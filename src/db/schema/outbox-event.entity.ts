import { defineEntity, p } from '@mikro-orm/postgresql';

export const OUTBOX_STATUSES = ['PENDING', 'PROCESSING', 'SENT', 'FAILED', 'ALERTED'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * What leaves the database, written in the transaction of the change it reports. The relay delivers
 * it at least once: a domain event to the `events` queue; an actor message to that actor's queue
 * (`queue`, optionally delayed until `deliverAt`, with a deterministic `jobId`); or the removal of a delayed job.
 */
export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox_events',
  properties: {
    id: p.uuid().primary(),
    aggregateType: p.string().length(40),
    aggregateId: p.string().length(80),
    type: p.string().length(60),
    payload: p.json<Record<string, unknown>>(),
    /** Destination queue; `events` for domain events. */
    queue: p.string().length(40),
    jobId: p.string().length(120).nullable(),
    /** A delayed job (a timeout) runs at this time, however late the relay delivers it. */
    deliverAt: p.datetime().nullable(),
    /** true: remove the delayed job `jobId` from `queue` instead of adding one. */
    cancel: p.boolean().default(false),
    status: p.enum(OUTBOX_STATUSES).default('PENDING'),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime(),
    lastError: p.text().nullable(),
    claimedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    sentAt: p.datetime().nullable(),
    /** W3C trace context of the transaction that wrote the row (JSON carrier); null when tracing is off. */
    traceContext: p.text().nullable(),
    /** A delivered domain event: the consumers that must acknowledge it (processed_messages). */
    consumers: p.array().nullable(),
    /** How often it was delivered; a re-delivery's job id carries it, so no kept job swallows it. */
    deliveries: p.integer().default(0),
  },
  indexes: [
    // Rows a relay may claim: new ones, and failed ones whose backoff has passed.
    {
      name: 'outbox_events_due_index',
      properties: ['nextAttemptAt'],
      where: "status in ('PENDING', 'FAILED')",
    },
    { name: 'outbox_events_processing_index', properties: ['claimedAt'], where: "status = 'PROCESSING'" },
    { name: 'outbox_events_aggregate_index', properties: ['aggregateId', 'createdAt'] },
    { name: 'outbox_events_status_created_index', properties: ['status', 'createdAt'] },
    // Delivered domain events, for the acknowledgement check.
    {
      name: 'outbox_events_sent_index',
      properties: ['sentAt'],
      where: "status = 'SENT' and queue = 'events'",
    },
  ],
});
export class OutboxEvent extends OutboxEventSchema.class {}
OutboxEventSchema.setClass(OutboxEvent);

/** One row: delivered domain events up to `checkedUntil` have been checked for acknowledgements. */
export const OutboxAckWatermarkSchema = defineEntity({
  name: 'OutboxAckWatermark',
  tableName: 'outbox_ack_watermark',
  properties: {
    // The one row is id 1, written by the migration: no sequence behind it.
    id: p.integer().primary().autoincrement(false),
    checkedUntil: p.datetime(),
  },
});
export class OutboxAckWatermark extends OutboxAckWatermarkSchema.class {}
OutboxAckWatermarkSchema.setClass(OutboxAckWatermark);
