import type { ConsumerOutcome, EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import { announceOrderChanges } from '../messaging/order-status';

const ORDER_EVENTS = ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CONFIRMED', 'ORDER_CANCELLED'] as const;
type OrderEventMessage = Extract<DomainEventMessage, { type: (typeof ORDER_EVENTS)[number] }>;
const isOrderEvent = (event: DomainEventMessage): event is OrderEventMessage =>
  (ORDER_EVENTS as readonly string[]).includes(event.type);

/**
 * Live order status: pings the order-status channel with the changed orders (one PUBLISH for all the
 * events of a job); the streams watching them (in any process) read the order's current status and
 * send it if its version is newer than what they sent. A repeated or late event therefore changes
 * nothing a client sees, so no processed-message record is kept.
 */
export const orderStatusConsumer: EventConsumer = {
  name: 'order-status',
  handles: isOrderEvent,
  apply: async (ctx, event) => {
    if (!isOrderEvent(event)) return 'skipped';
    await announceOrderChanges(ctx, [event.data.orderId]);
    return 'applied';
  },
  applyMany: async (ctx, events) => {
    const orderEvents = events.filter(isOrderEvent);
    await announceOrderChanges(
      ctx,
      orderEvents.map((event) => event.data.orderId),
    );
    return new Map<string, ConsumerOutcome>(
      events.map((event) => [event.id, isOrderEvent(event) ? 'applied' : 'skipped']),
    );
  },
};
