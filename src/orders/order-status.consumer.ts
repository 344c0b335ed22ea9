import type { EventConsumer } from '../messaging/consumer';
import { dataString } from '../messaging/domain-events';
import { announceOrderChange } from '../messaging/order-status';

const ORDER_EVENTS = new Set(['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CONFIRMED', 'ORDER_CANCELLED']);

/**
 * Live order status: pings the order's pub/sub channel; the streams watching it (in any process) read
 * the order's current status and send it if its version is newer than what they sent. A repeated or
 * late event therefore changes nothing a client sees, so no processed-message record is kept.
 */
export const orderStatusConsumer: EventConsumer = {
  name: 'order-status',
  handles: (event) => ORDER_EVENTS.has(event.type) && !!dataString(event, 'orderId'),
  apply: async (ctx, event) => {
    await announceOrderChange(ctx, dataString(event, 'orderId')!, event.type);
    return 'applied';
  },
};
