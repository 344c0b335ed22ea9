import type { CancelReason, OrderContext } from '../../machines/order.machine';

/**
 * The order machine as SPEC §3 describes it, written down as data and independently of
 * machines/order.machine.ts: the generated tests hold the machine against this table, and two
 * completeness checks hold the table against the machine's definition.
 *
 * An edge is `from` + `event` (+ the condition `when` on the order and the event) → `to`, with the
 * named effects the worker carries out and the context the step must leave. Rows whose `to` is
 * 'rejected' state guard variants explicitly; any (state, event) without a matching row is rejected.
 */

export const LEAF_STATES = [
  'PENDING.awaitingPayment',
  'PENDING.paying',
  'PAID.active',
  'PAID.cancelling',
  'CONFIRMED',
  'CANCELLED',
] as const;
export type LeafState = (typeof LEAF_STATES)[number];

/** Timeouts come back as delayed events under these names; stored delayed jobs carry them. */
export const PAYMENT_WINDOW_ELAPSED = 'xstate.after.paymentWindow.order.PENDING.awaitingPayment';
export const AUTO_CONFIRM_DELAY_ELAPSED = 'xstate.after.autoConfirmDelay.order.PAID';

export type SpecEventType =
  | 'PAY'
  | 'PAYMENT_SUCCEEDED'
  | 'PAYMENT_FAILED'
  | 'CANCEL'
  | 'EXPIRE'
  | 'CONFIRM'
  | 'AUTO_CONFIRM'
  | 'REFUND'
  | 'REFUND_COMPLETED'
  | 'REFUND_FAILED'
  | typeof PAYMENT_WINDOW_ELAPSED
  | typeof AUTO_CONFIRM_DELAY_ELAPSED;

/** What a condition may read from an event (every event carries `at`). */
export interface EventFacts {
  type: string;
  at: number;
  paymentId?: string;
  amount?: number;
  restock?: boolean;
}

export interface Condition {
  says: string;
  holds: (c: OrderContext, e: EventFacts) => boolean;
}

export interface SpecEdge {
  from: LeafState;
  event: SpecEventType;
  when?: Condition;
  to: LeafState | 'rejected';
  /** Named effects (not context updates): `emit(X)` for an outbox event of the order. */
  effects?: readonly string[];
  /** The context fields the step changes; every other field stays as it was. */
  context?: (c: OrderContext, e: EventFacts) => Partial<OrderContext>;
}

const cond = (says: string, holds: Condition['holds']): Condition => ({ says, holds });
const all = (...parts: Condition[]): Condition =>
  cond(parts.map((p) => p.says).join(', '), (c, e) => parts.every((p) => p.holds(c, e)));

/** What may still be refunded: paid, minus refunded, minus refunds under way. */
export const restOf = (c: OrderContext) => c.total - c.refundedAmount - c.pendingRefundAmount;
const amountOf = (e: EventFacts) => e.amount ?? 0;

const withinWindow = cond('within the payment window', (c, e) => e.at < c.expiresAt);
const windowPassed = cond('once the payment window has passed', (c, e) => e.at >= c.expiresAt);
const ownPayment = cond('for the order’s payment', (c, e) => e.paymentId === c.paymentId);
const otherPayment = cond('for another payment', (c, e) => e.paymentId !== c.paymentId);
const autoConfirmDue = cond(
  'once paidAt + autoConfirmMs has come',
  (c, e) => c.paidAt !== null && e.at >= c.paidAt + c.autoConfirmMs,
);
const autoConfirmNotDue = cond('before it is due', (c, e) => !autoConfirmDue.holds(c, e));
const somethingLeft = cond('while something is left to refund', (c) => restOf(c) > 0);
const nothingLeft = cond('when everything is refunded or being refunded', (c) => restOf(c) <= 0);
const fitsRest = cond(
  'of a positive amount within the rest',
  (c, e) => amountOf(e) > 0 && amountOf(e) <= restOf(c),
);
const outsideRest = cond('of nothing or above the rest', (c, e) => !fitsRest.holds(c, e));
const completesRefund = cond(
  'completing the refund of the whole total',
  (c, e) => c.refundedAmount + amountOf(e) >= c.total,
);
const leavesMoney = cond('leaving money paid', (c, e) => c.refundedAmount + amountOf(e) < c.total);
const restock = cond('asking to restock', (_, e) => e.restock === true);
const noRestock = cond('not asking to restock', (_, e) => e.restock !== true);
const wasPaid = cond('after the order was paid', (c) => c.paidAt !== null);
const neverPaid = cond('when the order was never paid', (c) => c.paidAt === null);

const emit = (event: string) => `emit(${event})`;
const cancelledBecause =
  (reason: CancelReason) =>
  (_: OrderContext, e: EventFacts): Partial<OrderContext> => ({ cancelReason: reason, cancelledAt: e.at });
const confirmed = (_: OrderContext, e: EventFacts) => ({ confirmedAt: e.at });
const settled = (c: OrderContext, e: EventFacts) => ({
  refundedAmount: c.refundedAmount + amountOf(e),
  // A refund the order never counted as pending (a late capture's) leaves nothing below zero.
  pendingRefundAmount: Math.max(0, c.pendingRefundAmount - amountOf(e)),
});
const settledAndCancelled = (reason: CancelReason) => (c: OrderContext, e: EventFacts) => ({
  ...settled(c, e),
  ...cancelledBecause(reason)(c, e),
});
const pendingDropped = (c: OrderContext, e: EventFacts) => ({
  pendingRefundAmount: Math.max(0, c.pendingRefundAmount - amountOf(e)),
});

/** PENDING → CANCELLED: the reservation and the coupon hold are released. */
const RELEASE = ['releaseStock', 'releaseCoupon', emit('ORDER_CANCELLED')];
/** PAID → CANCELLED when the last refund lands: the coupon becomes reusable, the reviews are withdrawn. */
const REFUNDED_AWAY = ['recordRefund', 'restoreCoupon', 'withdrawReviews', emit('ORDER_CANCELLED')];

export const PLACEMENT = {
  to: 'PENDING.awaitingPayment' as LeafState,
  effects: ['reserveStock', 'holdCoupon', emit('ORDER_CREATED')],
};

// biome-ignore format: one edge per row, read as a table
export const ORDER_SPEC: readonly SpecEdge[] = [
  // PENDING, no payment yet
  { from: 'PENDING.awaitingPayment', event: 'PAY', when: withinWindow, to: 'PENDING.paying',
    effects: ['createPayment'], context: (_, e) => ({ paymentId: e.paymentId! }) },
  { from: 'PENDING.awaitingPayment', event: 'PAY', when: windowPassed, to: 'rejected' },
  { from: 'PENDING.awaitingPayment', event: 'CANCEL', to: 'CANCELLED',
    effects: RELEASE, context: cancelledBecause('USER_CANCELLED') },
  { from: 'PENDING.awaitingPayment', event: 'EXPIRE', when: windowPassed, to: 'CANCELLED',
    effects: RELEASE, context: cancelledBecause('PAYMENT_TIMEOUT') },
  { from: 'PENDING.awaitingPayment', event: 'EXPIRE', when: withinWindow, to: 'rejected' },
  { from: 'PENDING.awaitingPayment', event: PAYMENT_WINDOW_ELAPSED, to: 'CANCELLED',
    effects: RELEASE, context: cancelledBecause('PAYMENT_TIMEOUT') },

  // PENDING, payment in flight: the window waits for the payment's outcome
  { from: 'PENDING.paying', event: 'PAYMENT_SUCCEEDED', when: ownPayment, to: 'PAID.active',
    effects: ['completePayment', 'commitStock', 'useCoupon', emit('ORDER_PAID')], context: (_, e) => ({ paidAt: e.at }) },
  { from: 'PENDING.paying', event: 'PAYMENT_FAILED', when: ownPayment, to: 'CANCELLED',
    effects: ['failPayment', ...RELEASE], context: cancelledBecause('PAYMENT_FAILED') },
  { from: 'PENDING.paying', event: 'PAYMENT_SUCCEEDED', when: otherPayment, to: 'rejected' },
  { from: 'PENDING.paying', event: 'PAYMENT_FAILED', when: otherPayment, to: 'rejected' },
  { from: 'PENDING.paying', event: 'EXPIRE', to: 'rejected' },
  { from: 'PENDING.paying', event: 'PAY', to: 'rejected' },
  { from: 'PENDING.paying', event: 'CANCEL', to: 'rejected' },

  // PAID, nothing under way but refunds
  { from: 'PAID.active', event: 'CONFIRM', to: 'CONFIRMED', effects: [emit('ORDER_CONFIRMED')], context: confirmed },
  { from: 'PAID.active', event: 'AUTO_CONFIRM', when: autoConfirmDue, to: 'CONFIRMED',
    effects: [emit('ORDER_CONFIRMED')], context: confirmed },
  { from: 'PAID.active', event: 'AUTO_CONFIRM', when: autoConfirmNotDue, to: 'rejected' },
  { from: 'PAID.active', event: AUTO_CONFIRM_DELAY_ELAPSED, to: 'CONFIRMED',
    effects: [emit('ORDER_CONFIRMED')], context: confirmed },
  { from: 'PAID.active', event: 'CANCEL', when: somethingLeft, to: 'PAID.cancelling',
    effects: ['requestFullRefund'], context: (c) => ({ pendingRefundAmount: c.total - c.refundedAmount }) },
  { from: 'PAID.active', event: 'CANCEL', when: nothingLeft, to: 'rejected' },
  ...refundRequests('PAID.active'),
  { from: 'PAID.active', event: 'REFUND_COMPLETED', when: otherPayment, to: 'PAID.active', effects: ['recordRefund'] },
  { from: 'PAID.active', event: 'REFUND_COMPLETED', when: all(ownPayment, leavesMoney), to: 'PAID.active',
    effects: ['recordRefund'], context: settled },
  { from: 'PAID.active', event: 'REFUND_COMPLETED', when: all(ownPayment, completesRefund, restock), to: 'CANCELLED',
    effects: [...REFUNDED_AWAY, 'restockItems'], context: settledAndCancelled('REFUNDED') },
  { from: 'PAID.active', event: 'REFUND_COMPLETED', when: all(ownPayment, completesRefund, noRestock), to: 'CANCELLED',
    effects: REFUNDED_AWAY, context: settledAndCancelled('REFUNDED') },
  ...refundFailures('PAID.active', 'PAID.active'),
  ...lateCaptures('PAID.active'),

  // PAID, cancelled by the buyer or an admin: the money goes back before the order is CANCELLED
  { from: 'PAID.cancelling', event: 'REFUND_COMPLETED', when: otherPayment, to: 'PAID.cancelling',
    effects: ['recordRefund'] },
  { from: 'PAID.cancelling', event: 'REFUND_COMPLETED', when: all(ownPayment, leavesMoney), to: 'PAID.cancelling',
    effects: ['recordRefund'], context: settled },
  // SPEC §3: cancelling a paid order restocks — whichever of its refunds happens to land last.
  { from: 'PAID.cancelling', event: 'REFUND_COMPLETED', when: all(ownPayment, completesRefund), to: 'CANCELLED',
    effects: [...REFUNDED_AWAY, 'restockItems'], context: settledAndCancelled('USER_CANCELLED') },
  ...refundFailures('PAID.cancelling', 'PAID.active'),
  ...lateCaptures('PAID.cancelling'),
  // The auto-confirm timer is spent while the refund runs; the sweeper's AUTO_CONFIRM comes back later.
  { from: 'PAID.cancelling', event: AUTO_CONFIRM_DELAY_ELAPSED, to: 'rejected' },
  { from: 'PAID.cancelling', event: 'CANCEL', to: 'rejected' },

  // CONFIRMED is final, but its money can still be refunded
  ...refundRequests('CONFIRMED'),
  { from: 'CONFIRMED', event: 'REFUND_COMPLETED', when: otherPayment, to: 'CONFIRMED', effects: ['recordRefund'] },
  { from: 'CONFIRMED', event: 'REFUND_COMPLETED', when: all(ownPayment, leavesMoney), to: 'CONFIRMED',
    effects: ['recordRefund'], context: settled },
  { from: 'CONFIRMED', event: 'REFUND_COMPLETED', when: all(ownPayment, completesRefund, restock), to: 'CONFIRMED',
    effects: ['recordRefund', 'restoreCoupon', 'withdrawReviews', 'restockItems'], context: settled },
  { from: 'CONFIRMED', event: 'REFUND_COMPLETED', when: all(ownPayment, completesRefund, noRestock), to: 'CONFIRMED',
    effects: ['recordRefund', 'restoreCoupon', 'withdrawReviews'], context: settled },
  ...refundFailures('CONFIRMED', 'CONFIRMED'),
  ...lateCaptures('CONFIRMED'),

  // CANCELLED is final and keeps no money
  { from: 'CANCELLED', event: 'PAYMENT_SUCCEEDED', when: otherPayment, to: 'CANCELLED', effects: ['refundLateCapture'] },
  { from: 'CANCELLED', event: 'PAYMENT_SUCCEEDED', when: all(ownPayment, neverPaid), to: 'CANCELLED',
    effects: ['refundLateCapture'] },
  // A repeated notice of the capture that the cancellation already refunded: refunding it again
  // would pay back more than was paid (SPEC §8.2), as PAID and CONFIRMED already know.
  { from: 'CANCELLED', event: 'PAYMENT_SUCCEEDED', when: all(ownPayment, wasPaid), to: 'rejected' },
  { from: 'CANCELLED', event: 'REFUND_COMPLETED', when: ownPayment, to: 'CANCELLED',
    effects: ['recordRefund'], context: settled },
  { from: 'CANCELLED', event: 'REFUND_COMPLETED', when: otherPayment, to: 'CANCELLED', effects: ['recordRefund'] },
  ...refundFailures('CANCELLED', 'CANCELLED'),
  { from: 'CANCELLED', event: 'CANCEL', to: 'rejected' },
];

function refundRequests(from: LeafState): SpecEdge[] {
  return [
    {
      from,
      event: 'REFUND',
      when: fitsRest,
      to: from,
      effects: ['requestRefund'],
      context: (c, e) => ({ pendingRefundAmount: c.pendingRefundAmount + amountOf(e) }),
    },
    { from, event: 'REFUND', when: outsideRest, to: 'rejected' },
  ];
}

/** The payment actor gave up on a refund (staff take it over); only the order's own stops counting. */
function refundFailures(from: LeafState, to: LeafState): SpecEdge[] {
  return [
    { from, event: 'REFUND_FAILED', when: ownPayment, to, effects: ['failRefund'], context: pendingDropped },
    { from, event: 'REFUND_FAILED', when: otherPayment, to: from, effects: ['failRefund'] },
  ];
}

/** A capture for a payment the order does not hold is refunded; a repeated one of its own is ignored. */
function lateCaptures(from: LeafState): SpecEdge[] {
  return [
    { from, event: 'PAYMENT_SUCCEEDED', when: otherPayment, to: from, effects: ['refundLateCapture'] },
    { from, event: 'PAYMENT_SUCCEEDED', when: ownPayment, to: 'rejected' },
  ];
}

/** The rows that apply to an event in a state; the spec is unambiguous when there is at most one. */
export function specEdgesFor(from: string, c: OrderContext, e: EventFacts): SpecEdge[] {
  return ORDER_SPEC.filter(
    (row) => row.from === from && row.event === e.type && (row.when?.holds(c, e) ?? true),
  );
}

/** Where a timeout runs: it starts on entering the region and is cancelled on leaving it. */
export const TIMEOUTS = [
  {
    delay: 'paymentWindow',
    region: 'PENDING.awaitingPayment',
    event: PAYMENT_WINDOW_ELAPSED,
    delayMs: (c: OrderContext) => c.paymentTimeoutMs,
  },
  {
    delay: 'autoConfirmDelay',
    region: 'PAID',
    event: AUTO_CONFIRM_DELAY_ELAPSED,
    delayMs: (c: OrderContext) => c.autoConfirmMs,
  },
] as const;

export interface ExpectedTimers {
  schedule: { delay: string; event: string; delayMs: number }[];
  cancel: string[];
}

const inside = (state: string | null, region: string) =>
  state !== null && (state === region || state.startsWith(`${region}.`));

/** Timers a step from `from` (null: placement) to `to` starts and cancels; `c` is the context after. */
export function expectedTimers(from: string | null, to: string, c: OrderContext): ExpectedTimers {
  return {
    schedule: TIMEOUTS.filter((t) => !inside(from, t.region) && inside(to, t.region)).map((t) => ({
      delay: t.delay,
      event: t.event,
      delayMs: t.delayMs(c),
    })),
    cancel: TIMEOUTS.filter((t) => inside(from, t.region) && !inside(to, t.region)).map((t) => t.delay),
  };
}
