import { defineEntity, p } from '@mikro-orm/postgresql';
import { Payment } from './payment.entity';

export const REFUND_STATUSES = ['REQUESTED', 'PROCESSING', 'REFUNDED', 'FAILED', 'MANUAL'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const RefundSchema = defineEntity({
  name: 'Refund',
  tableName: 'refunds',
  properties: {
    id: p.uuid().primary(),
    paymentId: () => p.manyToOne(Payment).mapToPk().fieldName('payment_id').index(),
    orderId: p.uuid().index(),
    /** The order's buyer (who owns the refund) and whoever asked for it (the buyer or an admin). */
    userId: p.uuid(),
    requestedBy: p.uuid(),
    amount: p.integer(),
    reason: p.string().length(500).nullable(),
    restock: p.boolean(),
    status: p.enum(REFUND_STATUSES).default('REQUESTED'),
    /** Client key for API refunds; a system key (`cancel-…`, `late-capture-…`) otherwise. */
    idempotencyKey: p.string().length(255),
    requestHash: p.string().length(64).nullable(),
    failureReason: p.string().length(200).nullable(),
    /** Calls the payment actor made for this refund (bounded by PAYMENT_MAX_ATTEMPTS). */
    attempts: p.integer().default(0),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
  uniques: [
    { name: 'refunds_requester_idempotency_key_unique', properties: ['requestedBy', 'idempotencyKey'] },
  ],
  indexes: [
    // The payment sweep's reads (payment-sweep.ts): refunds in flight, and those given up on.
    {
      name: 'refunds_unsettled_index',
      properties: ['updatedAt'],
      where: "status in ('REQUESTED', 'PROCESSING')",
    },
    { name: 'refunds_manual_index', properties: ['updatedAt'], where: "status = 'MANUAL'" },
  ],
  checks: [{ name: 'refunds_amount_positive', expression: 'amount > 0' }],
});
export class Refund extends RefundSchema.class {}
RefundSchema.setClass(Refund);
