import type { Effect } from './effect-context';
import { orderAggregate, orderEventPayload } from './effect-context';

/** Entering PENDING: hold every line's units (the whole order fails on any shortage). */
export const reserveStock: Effect = (e) => {
  const lines = e.placement!.lines;
  e.stock.reserve(lines);
  e.outbox.event('INVENTORY_RESERVED', orderAggregate(e), { ...orderEventPayload(e), items: lines });
};

/** Compensates reserveStock when a PENDING order is cancelled or expires. */
export const releaseStock: Effect = (e) => {
  e.stock.release();
  e.outbox.event('INVENTORY_RELEASED', orderAggregate(e), orderEventPayload(e));
};

/** Paid: the reserved units are sold. */
export const commitStock: Effect = (e) => {
  e.stock.commit();
  e.outbox.event('INVENTORY_COMMITTED', orderAggregate(e), orderEventPayload(e));
};

/** Compensates commitStock when a fully refunded order asked for its units back on the shelf. */
export const restockItems: Effect = (e) => {
  e.stock.restock();
  e.outbox.event('INVENTORY_RESTOCKED', orderAggregate(e), orderEventPayload(e));
};
