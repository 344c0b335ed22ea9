import { z } from 'zod';

/*
 * The one map of domain events and their payloads. The outbox writer takes its types from it and the
 * events worker parses every delivered event with it, so each consumer reads `event.data` typed by
 * the event's type. Payloads carry ids and a few facts; consumers read the rest themselves. Objects
 * are loose: a field added by a newer writer passes through (to webhooks) instead of being cut.
 */

const id = z.uuid();
const amount = z.number().int();

/** The facts every order event carries. */
const orderFacts = z.looseObject({ orderId: id, orderNo: z.string(), userId: id, total: amount });
const stockChange = z.looseObject({ productId: id, by: id, stock: amount });

export const DOMAIN_EVENTS = {
  ORDER_CREATED: orderFacts,
  ORDER_PAID: orderFacts,
  ORDER_CONFIRMED: orderFacts,
  ORDER_CANCELLED: orderFacts.extend({ cancelReason: z.string().nullable() }),
  PAYMENT_SUCCEEDED: z.looseObject({ paymentId: id, orderId: id, userId: id, amount }),
  PAYMENT_FAILED: z.looseObject({ paymentId: id, orderId: id, userId: id, reason: z.string() }),
  REFUND_COMPLETED: z.looseObject({ refundId: id, paymentId: id, orderId: id, userId: id, amount }),
  INVENTORY_RESERVED: orderFacts.extend({
    items: z.array(z.object({ productId: id, quantity: amount })),
  }),
  INVENTORY_COMMITTED: orderFacts,
  INVENTORY_RELEASED: orderFacts,
  /** An order's units back on the shelf (a refund), or an operator's restock of a product. */
  INVENTORY_RESTOCKED: z.union([orderFacts, stockChange.extend({ quantity: amount })]),
  INVENTORY_ADJUSTED: stockChange.extend({ delta: amount, reason: z.string() }),
  /** The buyer is what matters (a notification); older writers sent a coupon's code or name instead of ids. */
  COUPON_ISSUED: z.looseObject({
    couponId: id.optional(),
    userCouponId: id.optional(),
    userId: id,
    name: z.string().optional(),
    code: z.string().optional(),
  }),
  COUPON_USED: z.looseObject({ couponId: id, userCouponId: id, orderId: id, userId: id }),
  COUPON_RESTORED: z.looseObject({
    couponId: id,
    userCouponId: id,
    orderId: id,
    userId: id,
    status: z.string(),
  }),
  COUPON_EXPIRED: z.looseObject({ couponId: id, expiredUserCoupons: amount }),
} as const;

export type DomainEventType = keyof typeof DOMAIN_EVENTS;
export const DOMAIN_EVENT_TYPES = Object.keys(DOMAIN_EVENTS) as DomainEventType[];
export type DomainEventData<T extends DomainEventType> = z.infer<(typeof DOMAIN_EVENTS)[T]>;

/**
 * A domain event as the relay puts it on the `events` queue (a transaction's events travel together
 * in one job; `id` is the outbox row's id). Narrowing on `type` types `data`.
 */
export type DomainEventMessage = {
  [T in DomainEventType]: {
    id: string;
    type: T;
    aggregateType: string;
    aggregateId: string;
    occurredAt: string;
    data: DomainEventData<T>;
  };
}[DomainEventType];

const envelope = z.object({
  id: z.string().min(1),
  type: z.enum(DOMAIN_EVENT_TYPES as [DomainEventType, ...DomainEventType[]]),
  aggregateType: z.string(),
  aggregateId: z.string(),
  occurredAt: z.string(),
  data: z.unknown(),
});

/** An `events` job: a transaction's events (`{ events: [...] }`), or a lone event as the data. */
export const EventsJobSchema = z.object({ events: z.array(z.unknown()) });

/** Parses one delivered event with the map; the issues when it is not one. */
export function parseDomainEvent(
  raw: unknown,
): { event: DomainEventMessage; issues?: undefined } | { event?: undefined; issues: string } {
  const head = envelope.safeParse(raw);
  if (!head.success) return { issues: head.error.message };
  const data = DOMAIN_EVENTS[head.data.type].safeParse(head.data.data);
  if (!data.success) return { issues: `${head.data.type}: ${data.error.message}` };
  // The envelope's type chose the schema that parsed `data`: the pair is one of the map's entries.
  return { event: { ...head.data, data: data.data } as DomainEventMessage };
}

/** The event types of SPEC §7: what webhooks may subscribe to (INVENTORY_ADJUSTED stays internal). */
export const PUBLIC_EVENT_TYPES = DOMAIN_EVENT_TYPES.filter(
  (type): type is Exclude<DomainEventType, 'INVENTORY_ADJUSTED'> => type !== 'INVENTORY_ADJUSTED',
);
export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];

export const isPublicEventType = (type: string): type is PublicEventType =>
  (PUBLIC_EVENT_TYPES as readonly string[]).includes(type);
