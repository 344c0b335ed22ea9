import type { OrderContext, OrderEvent } from '../../machines/order.machine';
import { AUTO_CONFIRM_DELAY_ELAPSED, PAYMENT_WINDOW_ELAPSED, restOf } from './order-spec';

/** Every event the machine takes, timeouts included; `at` is epoch ms. */
export type AnyOrderEvent =
  | OrderEvent
  | { type: typeof PAYMENT_WINDOW_ELAPSED | typeof AUTO_CONFIRM_DELAY_ELAPSED; at: number };

/**
 * Every event the order machine can receive, in the parameter variants its guards tell apart. Each
 * variant builds its event from the order's context, so the same variant means the same thing in
 * every state ("within the payment window", "above what is left to refund").
 */
export interface EventVariant {
  name: string;
  type: AnyOrderEvent['type'];
  /** False where the variant cannot be built meaningfully (e.g. no payment to refer to). */
  applies?: (c: OrderContext) => boolean;
  make: (c: OrderContext) => AnyOrderEvent;
}

export const PART = 2_500;
export const OTHER_PAYMENT = 'payment-stray';

/** A moment after everything that has happened to the order. */
export const laterThanAll = (c: OrderContext) =>
  Math.max(c.placedAt, c.paidAt ?? 0, c.confirmedAt ?? 0, c.cancelledAt ?? 0) + 1_000;
const autoConfirmDueAt = (c: OrderContext) => (c.paidAt ?? c.expiresAt) + c.autoConfirmMs;
const hasPayment = (c: OrderContext) => c.paymentId !== null;
const ownPayment = (c: OrderContext) => c.paymentId ?? 'payment-none';
const unrefunded = (c: OrderContext) => c.total - c.refundedAmount;
/** The refund of a capture that landed after the order's payment was reported failed. */
const lateCaptureRefund = (c: OrderContext) =>
  hasPayment(c) && c.paidAt === null && c.pendingRefundAmount === 0;
/** Refund outcomes only come for refunds that were asked for: pending ones, or a late capture's. */
const partOfPendingLands = (c: OrderContext) =>
  hasPayment(c) && c.pendingRefundAmount >= PART && c.refundedAmount + PART < c.total;
const lastRefundLands = (c: OrderContext) =>
  unrefunded(c) > 0 && ((hasPayment(c) && c.pendingRefundAmount === unrefunded(c)) || lateCaptureRefund(c));

const refundCompleted = (
  c: OrderContext,
  paymentId: string,
  amount: number,
  restock: boolean,
): AnyOrderEvent => ({
  type: 'REFUND_COMPLETED',
  refundId: `refund-${amount}`,
  paymentId,
  amount,
  restock,
  at: laterThanAll(c),
});
const refundFailed = (c: OrderContext, paymentId: string, amount: number): AnyOrderEvent => ({
  type: 'REFUND_FAILED',
  refundId: `refund-${amount}`,
  paymentId,
  amount,
  at: laterThanAll(c),
});

// biome-ignore format: one variant per row, read as a table
export const ALPHABET: readonly EventVariant[] = [
  { name: 'PAY within the payment window', type: 'PAY',
    make: (c) => ({ type: 'PAY', paymentId: 'payment-1', method: 'CARD', at: c.expiresAt - 1 }) },
  { name: 'PAY once the payment window has passed', type: 'PAY',
    make: (c) => ({ type: 'PAY', paymentId: 'payment-1', method: 'BALANCE', at: c.expiresAt }) },
  { name: 'PAYMENT_SUCCEEDED for the order’s payment', type: 'PAYMENT_SUCCEEDED', applies: hasPayment,
    make: (c) => ({ type: 'PAYMENT_SUCCEEDED', paymentId: ownPayment(c), amount: c.total, at: laterThanAll(c) }) },
  { name: 'PAYMENT_SUCCEEDED for another payment', type: 'PAYMENT_SUCCEEDED',
    make: (c) => ({ type: 'PAYMENT_SUCCEEDED', paymentId: OTHER_PAYMENT, amount: c.total, at: laterThanAll(c) }) },
  { name: 'PAYMENT_FAILED for the order’s payment', type: 'PAYMENT_FAILED', applies: hasPayment,
    make: (c) => ({ type: 'PAYMENT_FAILED', paymentId: ownPayment(c), reason: 'CARD_DECLINED', at: laterThanAll(c) }) },
  { name: 'PAYMENT_FAILED for another payment', type: 'PAYMENT_FAILED',
    make: (c) => ({ type: 'PAYMENT_FAILED', paymentId: OTHER_PAYMENT, reason: 'CARD_DECLINED', at: laterThanAll(c) }) },
  { name: 'CANCEL', type: 'CANCEL',
    make: (c) => ({ type: 'CANCEL', reason: 'changed my mind', at: laterThanAll(c) }) },
  { name: 'EXPIRE before the payment window ends', type: 'EXPIRE',
    make: (c) => ({ type: 'EXPIRE', at: c.expiresAt - 1 }) },
  { name: 'EXPIRE once the payment window has passed', type: 'EXPIRE',
    make: (c) => ({ type: 'EXPIRE', at: c.expiresAt }) },
  { name: 'the payment window timer fires', type: PAYMENT_WINDOW_ELAPSED,
    make: (c) => ({ type: PAYMENT_WINDOW_ELAPSED, at: c.expiresAt }) },
  { name: 'CONFIRM', type: 'CONFIRM',
    make: (c) => ({ type: 'CONFIRM', at: laterThanAll(c) }) },
  { name: 'AUTO_CONFIRM before it is due', type: 'AUTO_CONFIRM',
    make: (c) => ({ type: 'AUTO_CONFIRM', at: autoConfirmDueAt(c) - 1 }) },
  { name: 'AUTO_CONFIRM once it is due', type: 'AUTO_CONFIRM',
    make: (c) => ({ type: 'AUTO_CONFIRM', at: autoConfirmDueAt(c) }) },
  { name: 'the auto-confirm timer fires', type: AUTO_CONFIRM_DELAY_ELAPSED,
    make: (c) => ({ type: AUTO_CONFIRM_DELAY_ELAPSED, at: autoConfirmDueAt(c) }) },
  { name: 'REFUND of part of the rest', type: 'REFUND', applies: (c) => restOf(c) > PART,
    make: (c) => ({ type: 'REFUND', refundId: 'refund-part', amount: PART, restock: false, at: laterThanAll(c) }) },
  { name: 'REFUND of all the rest', type: 'REFUND', applies: (c) => restOf(c) > 0,
    make: (c) => ({ type: 'REFUND', refundId: 'refund-rest', amount: restOf(c), restock: true, at: laterThanAll(c) }) },
  { name: 'REFUND above the rest', type: 'REFUND',
    make: (c) => ({ type: 'REFUND', refundId: 'refund-over', amount: restOf(c) + 1, restock: true, at: laterThanAll(c) }) },
  { name: 'REFUND of nothing', type: 'REFUND',
    make: (c) => ({ type: 'REFUND', refundId: 'refund-zero', amount: 0, restock: false, at: laterThanAll(c) }) },
  { name: 'REFUND_COMPLETED of the order’s payment, partly', type: 'REFUND_COMPLETED', applies: partOfPendingLands,
    make: (c) => refundCompleted(c, ownPayment(c), PART, true) },
  { name: 'REFUND_COMPLETED of the order’s payment, completing it, with restock', type: 'REFUND_COMPLETED',
    applies: lastRefundLands, make: (c) => refundCompleted(c, ownPayment(c), unrefunded(c), true) },
  { name: 'REFUND_COMPLETED of the order’s payment, completing it, without restock', type: 'REFUND_COMPLETED',
    applies: lastRefundLands, make: (c) => refundCompleted(c, ownPayment(c), unrefunded(c), false) },
  { name: 'REFUND_COMPLETED of another payment', type: 'REFUND_COMPLETED',
    make: (c) => refundCompleted(c, OTHER_PAYMENT, c.total, false) },
  { name: 'REFUND_FAILED of the order’s payment, for all that is pending', type: 'REFUND_FAILED',
    applies: (c) => hasPayment(c) && c.pendingRefundAmount > 0,
    make: (c) => refundFailed(c, ownPayment(c), c.pendingRefundAmount) },
  { name: 'REFUND_FAILED of the order’s payment, for part of what is pending', type: 'REFUND_FAILED',
    applies: (c) => hasPayment(c) && c.pendingRefundAmount > PART,
    make: (c) => refundFailed(c, ownPayment(c), PART) },
  { name: 'REFUND_FAILED of the order’s payment, for a late capture’s refund', type: 'REFUND_FAILED',
    applies: lateCaptureRefund, make: (c) => refundFailed(c, ownPayment(c), c.total) },
  { name: 'REFUND_FAILED of another payment', type: 'REFUND_FAILED',
    make: (c) => refundFailed(c, OTHER_PAYMENT, c.total) },
];
