import type { OrderDomainEvent } from '../../../machines/order.machine';
import type { Effect } from './effect-context';
import { orderAggregate, orderEventPayload } from './effect-context';

/** The order-level event a transition declares (ORDER_CREATED, ORDER_PAID, …). */
export const emit: Effect<{ event: OrderDomainEvent }> = (e, params) => {
  e.outbox.event(params.event, orderAggregate(e), {
    ...orderEventPayload(e),
    ...(params.event === 'ORDER_CANCELLED' ? { cancelReason: e.after.cancelReason } : {}),
  });
};
