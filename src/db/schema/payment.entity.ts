import { defineEntity, p } from '@mikro-orm/postgresql';
import { Order } from './order.entity';
import { User } from './user.entity';

/** The payment methods; each has its handler in src/payments/methods/ (the compiler checks). */
export const PAYMENT_METHODS = ['CARD', 'BALANCE'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
export const PAYMENT_STATUSES = [
  'REQUESTED',
  'PROCESSING',
  'COMPLETED',
  'FAILED',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const PaymentSchema = defineEntity({
  name: 'Payment',
  tableName: 'payments',
  properties: {
    id: p.uuid().primary(),
    orderId: () => p.manyToOne(Order).mapToPk().fieldName('order_id').index(),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id'),
    method: p.enum(PAYMENT_METHODS),
    amount: p.integer(),
    status: p.enum(PAYMENT_STATUSES).default('REQUESTED'),
    cardToken: p.string().length(64).nullable(),
    idempotencyKey: p.string().length(255),
    requestHash: p.string().length(64),
    failureReason: p.string().length(40).nullable(),
    refundedAmount: p.integer().default(0),
    attempts: p.integer().default(0),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
  uniques: [{ name: 'payments_user_idempotency_key_unique', properties: ['userId', 'idempotencyKey'] }],
  indexes: [
    { name: 'payments_user_created_index', properties: ['userId', 'createdAt'] },
    // The payment sweep's reads (payment-sweep.ts): payments in flight, and recent gateway failures.
    {
      name: 'payments_unsettled_index',
      properties: ['updatedAt'],
      where: "status in ('REQUESTED', 'PROCESSING')",
    },
    {
      name: 'payments_gateway_failed_index',
      properties: ['updatedAt'],
      where: "status = 'FAILED' and failure_reason in ('GATEWAY_TIMEOUT', 'GATEWAY_ERROR')",
    },
  ],
  checks: [
    { name: 'payments_amount_positive', expression: 'amount >= 0' },
    {
      name: 'payments_refund_within_amount',
      expression: 'refunded_amount >= 0 and refunded_amount <= amount',
    },
  ],
});
export class Payment extends PaymentSchema.class {}
PaymentSchema.setClass(Payment);
