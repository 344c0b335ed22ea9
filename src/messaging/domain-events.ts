import { DOMAIN_EVENT_TYPES, type DomainEventType } from './outbox';

/**
 * A domain event as the relay puts it on the `events` queue (a transaction's events travel together
 * in one job; `id` is the outbox row's id). `data` carries ids and a few facts; consumers read the rest themselves.
 */
export interface DomainEventMessage {
  id: string;
  type: DomainEventType;
  aggregateType: string;
  aggregateId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** The event types of SPEC §7: what webhooks may subscribe to (INVENTORY_ADJUSTED stays internal). */
export const PUBLIC_EVENT_TYPES = DOMAIN_EVENT_TYPES.filter(
  (type): type is Exclude<DomainEventType, 'INVENTORY_ADJUSTED'> => type !== 'INVENTORY_ADJUSTED',
);
export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];

export const isPublicEventType = (type: string): type is PublicEventType =>
  (PUBLIC_EVENT_TYPES as readonly string[]).includes(type);

/** A string field of the event's data, if it is one. */
export function dataString(event: DomainEventMessage, field: string): string | undefined {
  const value = event.data[field];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function dataNumber(event: DomainEventMessage, field: string): number | undefined {
  const value = event.data[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
