import { defineEntity, p } from '@mikro-orm/postgresql';
import { Order } from './order.entity';

/** The audit trail: one row per transition the order machine took, in the transaction that took it. */
export const OrderTransitionSchema = defineEntity({
  name: 'OrderTransition',
  tableName: 'order_transitions',
  properties: {
    id: p.uuid().primary(),
    orderId: () => p.manyToOne(Order).mapToPk().fieldName('order_id'),
    fromStatus: p.string().length(16).nullable(),
    toStatus: p.string().length(16),
    fromState: p.string().length(64).nullable(),
    toState: p.string().length(64),
    event: p.string().length(40),
    /** The message that caused it (command or job id), for tracing. */
    messageId: p.string().length(80).nullable(),
    at: p.datetime(),
  },
  indexes: [{ name: 'order_transitions_order_at_index', properties: ['orderId', 'at'] }],
});
export class OrderTransition extends OrderTransitionSchema.class {}
OrderTransitionSchema.setClass(OrderTransition);
