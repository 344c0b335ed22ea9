import type { EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import { announceOrderChange } from '../messaging/order-status';

const ORDER_EVENTS = ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CONFIRMED', 'ORDER_CANCELLED'] as const;
type OrderEventMessage = Extract<DomainEventMessage, { type: (typeof ORDER_EVENTS)[number] }>;
const isOrderEvent = (event: DomainEventMessage): event is OrderEventMessage =>
  (ORDER_EVENTS as readonly string[]).includes(event.type);

/**
 * Live order status: pings the order's pub/sub channel; the streams watching it (in any process) read
 * the order's current status and send it if its version is newer than what they sent. A repeated or
 * late event therefore changes nothing a client sees, so no processed-message record is kept.
 */
export const orderStatusConsumer: EventConsumer = {
  name: 'order-status',
  handles: isOrderEvent,
  apply: async (ctx, event) => {
    if (!isOrderEvent(event)) return 'skipped';
    await announceOrderChange(ctx, event.data.orderId, event.type);
    return 'applied';
  },
};
