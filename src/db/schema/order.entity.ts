import { defineEntity, p } from '@mikro-orm/postgresql';
import { CANCEL_REASONS, ORDER_STATUSES } from '../../../machines/order.machine';
import { User } from './user.entity';

/**
 * An order: the past. `snapshot` is the persisted XState snapshot and the only state there is; the
 * columns beside it (status, state, expiresAt, …) are projections of it for queries and indexes,
 * written in the same statement as the snapshot and never on their own.
 */
export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'orders',
  properties: {
    id: p.uuid().primary(),
    orderNo: p.string().length(16).unique(),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id'),
    status: p.enum(ORDER_STATUSES),
    state: p.string().length(64),
    snapshot: p.json<Record<string, unknown>>(),
    machineVersion: p.integer(),
    subtotal: p.integer(),
    discount: p.integer().default(0),
    total: p.integer(),
    refundedAmount: p.integer().default(0),
    /** The payment in flight or completed (the machine's context.paymentId). */
    paymentId: p.uuid().nullable(),
    userCouponId: p.uuid().nullable(),
    couponCode: p.string().length(40).nullable(),
    cancelReason: p.enum(CANCEL_REASONS).nullable(),
    expiresAt: p.datetime(),
    paidAt: p.datetime().nullable(),
    /** When a paid order confirms itself (paidAt + the machine's autoConfirmMs): the sweeps' range. */
    autoConfirmAt: p.datetime().nullable(),
    confirmedAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer().default(1),
  },
  // Triggers on this table keep the orders-by-status counts (migration order_status_counts).
  indexes: [
    { name: 'orders_user_created_index', properties: ['userId', 'createdAt'] },
    { name: 'orders_user_status_created_index', properties: ['userId', 'status', 'createdAt'] },
    // The sweepers' scans: overdue PENDING orders and PAID orders due for auto-confirmation.
    { name: 'orders_pending_expires_index', properties: ['expiresAt'], where: "status = 'PENDING'" },
    { name: 'orders_auto_confirm_index', properties: ['autoConfirmAt'], where: "status = 'PAID'" },
  ],
  checks: [
    {
      name: 'orders_money_sane',
      expression: 'subtotal >= 0 and discount >= 0 and discount <= subtotal and total = subtotal - discount',
    },
    { name: 'orders_refund_within_total', expression: 'refunded_amount >= 0 and refunded_amount <= total' },
  ],
});
export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);
