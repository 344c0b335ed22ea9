import { dataString } from '../../src/messaging/domain-events';
import { loadOrderStatus, publishOrderStatus } from '../../src/messaging/order-status';
import type { EventConsumer } from './consumer';

const ORDER_EVENTS = new Set(['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CONFIRMED', 'ORDER_CANCELLED']);

/**
 * Live order status: publishes the order's *current* status (read now, with its version) on the
 * order's pub/sub channel. Publishing is idempotent by nature — a repeat or a late event republishes
 * a version the stream already has and drops — so it keeps no processed-message record.
 */
export const orderStatusConsumer: EventConsumer = {
  name: 'order-status',
  handles: (event) => ORDER_EVENTS.has(event.type) && !!dataString(event, 'orderId'),
  apply: async (ctx, event) => {
    const status = await loadOrderStatus(ctx.orm.em.fork(), dataString(event, 'orderId')!);
    if (!status) return 'skipped';
    const { userId: _owner, ...update } = status;
    await publishOrderStatus(ctx, update);
    return 'applied';
  },
};
