import { and, assign, not, setup, stateIn } from 'xstate';

/**
 * The order machine (SPEC §3). Pure: no I/O, no invoked actors, no clock. Every event carries `at`
 * (epoch ms) given by the worker, and every effect is a *named* action that the worker carries out
 * inside the transaction that persists the next snapshot. Delays (`after`) come back from
 * `transition()` as delayed `xstate.raise` actions, which the worker turns into delayed jobs.
 *
 * Top-level states are the order's status; sub-states refine it:
 *   PENDING.awaitingPayment → PENDING.paying → PAID.active ⇄ PAID.cancelling → CONFIRMED / CANCELLED
 */
export const ORDER_MACHINE_VERSION = 1;

export const ORDER_STATUSES = ['PENDING', 'PAID', 'CONFIRMED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const CANCEL_REASONS = ['USER_CANCELLED', 'PAYMENT_FAILED', 'PAYMENT_TIMEOUT', 'REFUNDED'] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/**
 * What a state means to the rest of the shop, so nothing outside the machine compares state names
 * (`snapshot.hasTag(…)`, or src/orders/order-tags.ts in SQL):
 * - holds-stock: the order's units are reserved (inventory: reserved = Σ these orders' quantities);
 * - awaits-payment: the payment window runs (the sweep expires it when due);
 * - auto-confirms: a paid order the auto-confirmation picks up when due;
 * - counts-as-sale: the order counts in sales statistics and entitles its buyer to review.
 */
export const ORDER_TAGS = ['holds-stock', 'awaits-payment', 'auto-confirms', 'counts-as-sale'] as const;
export type OrderTag = (typeof ORDER_TAGS)[number];

export interface OrderInput {
  orderId: string;
  userId: string;
  total: number;
  userCouponId: string | null;
  placedAt: number;
  paymentTimeoutMs: number;
  autoConfirmMs: number;
}

export interface OrderContext {
  orderId: string;
  userId: string;
  total: number;
  userCouponId: string | null;
  paymentTimeoutMs: number;
  autoConfirmMs: number;
  placedAt: number;
  expiresAt: number;
  /** The payment in flight or completed; at most one per order. */
  paymentId: string | null;
  refundedAmount: number;
  /** Refunds requested but not completed yet: what may still be refunded excludes them. */
  pendingRefundAmount: number;
  cancelReason: CancelReason | null;
  paidAt: number | null;
  confirmedAt: number | null;
  cancelledAt: number | null;
}

type At = { at: number };
export type OrderEvent =
  /** The method is the payments module's business (its list of handlers); the machine treats all alike. */
  | ({ type: 'PAY'; paymentId: string; method: string } & At)
  | ({ type: 'PAYMENT_SUCCEEDED'; paymentId: string; amount: number } & At)
  | ({ type: 'PAYMENT_FAILED'; paymentId: string; reason: string } & At)
  | ({ type: 'CANCEL'; reason?: string } & At)
  | ({ type: 'EXPIRE' } & At)
  | ({ type: 'CONFIRM' } & At)
  | ({ type: 'AUTO_CONFIRM' } & At)
  | ({ type: 'REFUND'; refundId: string; amount: number; restock: boolean } & At)
  | ({ type: 'REFUND_COMPLETED'; refundId: string; paymentId: string; amount: number; restock: boolean } & At)
  | ({ type: 'REFUND_FAILED'; refundId: string; paymentId: string; amount: number } & At);

export type OrderEventType = OrderEvent['type'];

/** Commands a client may send, and the action names API.md shows in `allowedActions`. */
export const CLIENT_ACTIONS = {
  PAY: 'PAY',
  CANCEL: 'CANCEL',
  CONFIRM: 'CONFIRM',
  REFUND: 'REFUND',
} as const satisfies Record<string, OrderEventType>;

/** Order events that leave the database through the outbox (SPEC §7). */
export type OrderDomainEvent = 'ORDER_CREATED' | 'ORDER_PAID' | 'ORDER_CONFIRMED' | 'ORDER_CANCELLED';

/**
 * Effects: named here, carried out by the worker in the committing transaction (src/orders/effects/,
 * whose map the compiler checks against these names and parameters). No-ops in the machine itself.
 */
const effects = {
  reserveStock: () => {},
  releaseStock: () => {},
  commitStock: () => {},
  restockItems: () => {},
  holdCoupon: () => {},
  releaseCoupon: () => {},
  useCoupon: () => {},
  restoreCoupon: () => {},
  withdrawReviews: () => {},
  createPayment: () => {},
  completePayment: () => {},
  failPayment: () => {},
  requestRefund: () => {},
  requestFullRefund: () => {},
  recordRefund: () => {},
  failRefund: () => {},
  refundLateCapture: () => {},
  emit: (_: unknown, _params: { event: OrderDomainEvent }) => {},
};
export type OrderEffectName = keyof typeof effects;
/** Each effect's parameters as the machine passes them (undefined for most). */
export type OrderEffectParams = { [K in OrderEffectName]: Parameters<(typeof effects)[K]>[1] };
export const ORDER_EFFECT_NAMES = Object.keys(effects) as OrderEffectName[];

/** What may still be refunded: the total less what was refunded and what is being refunded. */
export const restOfPayment = (c: OrderContext) => c.total - c.refundedAmount - c.pendingRefundAmount;
/** A refund the payment actor gave up on: staff must act (MANUAL); it no longer counts as pending. */
const refundFailed = [
  { guard: 'isCurrentPayment', actions: ['dropPendingRefund', 'failRefund'] },
  { actions: 'failRefund' },
] as const;

/**
 * PAID.cancelling → CANCELLED when the refunds add up: a cancelled paid order always returns its
 * units, whichever of its refunds (and whatever restock flag) happens to land last.
 */
const refundCompletedWhileCancelling = [
  { guard: 'isOtherPayment', actions: 'recordRefund' },
  {
    guard: 'completesFullRefund',
    target: '#order.CANCELLED',
    actions: [
      'settleRefund',
      'recordRefund',
      { type: 'markCancelled', params: { reason: 'USER_CANCELLED' } },
      'restoreCoupon',
      'withdrawReviews',
      { type: 'emit', params: { event: 'ORDER_CANCELLED' } },
      'restockItems',
    ],
  },
  { actions: ['settleRefund', 'recordRefund'] },
] as const;

const confirm = ['markConfirmed', { type: 'emit', params: { event: 'ORDER_CONFIRMED' } }] as const;

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
    tags: {} as OrderTag,
  },
  delays: {
    paymentWindow: ({ context }) => context.paymentTimeoutMs,
    autoConfirmDelay: ({ context }) => context.autoConfirmMs,
  },
  guards: {
    isWithinPaymentWindow: ({ context, event }) => event.at < context.expiresAt,
    hasPaymentWindowPassed: ({ context, event }) => event.at >= context.expiresAt,
    isCurrentPayment: ({ context, event }) => 'paymentId' in event && event.paymentId === context.paymentId,
    isAutoConfirmDue: ({ context, event }) =>
      context.paidAt !== null && event.at >= context.paidAt + context.autoConfirmMs,
    refundFitsPayment: ({ context, event }) =>
      event.type === 'REFUND' && event.amount > 0 && event.amount <= restOfPayment(context),
    hasRestToRefund: ({ context }) => restOfPayment(context) > 0,
    completesFullRefund: ({ context, event }) =>
      event.type === 'REFUND_COMPLETED' && context.refundedAmount + event.amount >= context.total,
    wantsRestock: ({ event }) => event.type === 'REFUND_COMPLETED' && event.restock,
    isOtherPayment: not('isCurrentPayment'),
    /** A capture the order never accounted for: another payment, or its own that was never settled as paid. */
    isUnsettledCapture: ({ context, event }) =>
      event.type === 'PAYMENT_SUCCEEDED' &&
      (event.paymentId !== context.paymentId || context.paidAt === null),
  },
  actions: {
    ...effects,

    // Context updates: pure, applied by transition() itself.
    rememberPayment: assign({
      paymentId: ({ event }) => (event.type === 'PAY' ? event.paymentId : null),
    }),
    markPaid: assign({ paidAt: ({ event }) => event.at }),
    markConfirmed: assign({ confirmedAt: ({ event }) => event.at }),
    markCancelled: assign({
      cancelledAt: ({ event }) => event.at,
      cancelReason: (_, params: { reason: CancelReason }) => params.reason,
    }),
    addPendingRefund: assign({
      pendingRefundAmount: ({ context, event }) =>
        context.pendingRefundAmount + (event.type === 'REFUND' ? event.amount : 0),
    }),
    addPendingFullRefund: assign({
      pendingRefundAmount: ({ context }) => context.pendingRefundAmount + restOfPayment(context),
    }),
    settleRefund: assign({
      refundedAmount: ({ context, event }) =>
        context.refundedAmount + (event.type === 'REFUND_COMPLETED' ? event.amount : 0),
      pendingRefundAmount: ({ context, event }) =>
        Math.max(0, context.pendingRefundAmount - ('amount' in event ? event.amount : 0)),
    }),
    dropPendingRefund: assign({
      pendingRefundAmount: ({ context, event }) =>
        Math.max(0, context.pendingRefundAmount - ('amount' in event ? event.amount : 0)),
    }),
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({
    orderId: input.orderId,
    userId: input.userId,
    total: input.total,
    userCouponId: input.userCouponId,
    paymentTimeoutMs: input.paymentTimeoutMs,
    autoConfirmMs: input.autoConfirmMs,
    placedAt: input.placedAt,
    expiresAt: input.placedAt + input.paymentTimeoutMs,
    paymentId: null,
    refundedAmount: 0,
    pendingRefundAmount: 0,
    cancelReason: null,
    paidAt: null,
    confirmedAt: null,
    cancelledAt: null,
  }),
  initial: 'PENDING',
  states: {
    PENDING: {
      tags: ['holds-stock'],
      entry: ['reserveStock', 'holdCoupon', { type: 'emit', params: { event: 'ORDER_CREATED' } }],
      initial: 'awaitingPayment',
      states: {
        awaitingPayment: {
          tags: ['awaits-payment'],
          after: {
            paymentWindow: { target: '#order.CANCELLED', actions: cancelPending('PAYMENT_TIMEOUT') },
          },
          on: {
            EXPIRE: {
              guard: 'hasPaymentWindowPassed',
              target: '#order.CANCELLED',
              actions: cancelPending('PAYMENT_TIMEOUT'),
            },
            PAY: {
              guard: 'isWithinPaymentWindow',
              target: 'paying',
              actions: ['rememberPayment', 'createPayment'],
            },
            CANCEL: { target: '#order.CANCELLED', actions: cancelPending('USER_CANCELLED') },
          },
        },
        // The payment window waits here for the payment's outcome, which bounded retries guarantee.
        paying: {
          on: {
            PAYMENT_SUCCEEDED: {
              guard: 'isCurrentPayment',
              target: '#order.PAID',
              actions: [
                'markPaid',
                'completePayment',
                'commitStock',
                'useCoupon',
                { type: 'emit', params: { event: 'ORDER_PAID' } },
              ],
            },
            PAYMENT_FAILED: {
              guard: 'isCurrentPayment',
              target: '#order.CANCELLED',
              actions: ['failPayment', ...cancelPending('PAYMENT_FAILED')],
            },
          },
        },
      },
    },
    PAID: {
      tags: ['counts-as-sale'],
      initial: 'active',
      after: {
        // While a cancellation refund runs the timer is spent without effect; the sweeper's
        // AUTO_CONFIRM picks the order up again if that refund fails.
        autoConfirmDelay: { guard: stateIn({ PAID: 'active' }), target: 'CONFIRMED', actions: confirm },
      },
      on: {
        PAYMENT_SUCCEEDED: { guard: 'isOtherPayment', actions: 'refundLateCapture' },
      },
      states: {
        active: {
          tags: ['auto-confirms'],
          on: {
            CONFIRM: { target: '#order.CONFIRMED', actions: confirm },
            AUTO_CONFIRM: { guard: 'isAutoConfirmDue', target: '#order.CONFIRMED', actions: confirm },
            CANCEL: {
              guard: 'hasRestToRefund',
              target: 'cancelling',
              actions: ['addPendingFullRefund', 'requestFullRefund'],
            },
            REFUND: { guard: 'refundFitsPayment', actions: ['addPendingRefund', 'requestRefund'] },
            REFUND_COMPLETED: refundCompletedWhilePaid('REFUNDED'),
            REFUND_FAILED: refundFailed,
          },
        },
        // A buyer or admin cancelled a paid order: its money goes back before it is CANCELLED.
        cancelling: {
          on: {
            REFUND_COMPLETED: refundCompletedWhileCancelling,
            REFUND_FAILED: [
              { guard: 'isCurrentPayment', target: 'active', actions: ['dropPendingRefund', 'failRefund'] },
              { actions: 'failRefund' },
            ],
          },
        },
      },
    },
    CONFIRMED: {
      tags: ['counts-as-sale'],
      on: {
        REFUND: { guard: 'refundFitsPayment', actions: ['addPendingRefund', 'requestRefund'] },
        REFUND_COMPLETED: [
          { guard: 'isOtherPayment', actions: 'recordRefund' },
          {
            guard: and(['completesFullRefund', 'wantsRestock']),
            actions: ['settleRefund', 'recordRefund', 'restockItems', 'restoreCoupon', 'withdrawReviews'],
          },
          {
            guard: 'completesFullRefund',
            actions: ['settleRefund', 'recordRefund', 'restoreCoupon', 'withdrawReviews'],
          },
          { actions: ['settleRefund', 'recordRefund'] },
        ],
        REFUND_FAILED: refundFailed,
        PAYMENT_SUCCEEDED: { guard: 'isOtherPayment', actions: 'refundLateCapture' },
      },
    },
    // A cancelled order keeps no money: a capture that still lands is refunded at once.
    CANCELLED: {
      on: {
        PAYMENT_SUCCEEDED: { guard: 'isUnsettledCapture', actions: 'refundLateCapture' },
        REFUND_COMPLETED: [
          { guard: 'isCurrentPayment', actions: ['settleRefund', 'recordRefund'] },
          { actions: 'recordRefund' },
        ],
        REFUND_FAILED: refundFailed,
      },
    },
  },
});

/** PENDING → CANCELLED: the reservation and the coupon hold are released. */
function cancelPending(reason: CancelReason) {
  return [
    { type: 'markCancelled', params: { reason } },
    'releaseStock',
    'releaseCoupon',
    { type: 'emit', params: { event: 'ORDER_CANCELLED' } },
  ] as const;
}

/** PAID → PAID or CANCELLED when a refund lands: only a full refund cancels, restocking if asked. */
function refundCompletedWhilePaid(reason: CancelReason) {
  const cancel = [
    'settleRefund',
    'recordRefund',
    { type: 'markCancelled', params: { reason } },
    'restoreCoupon',
    'withdrawReviews',
    { type: 'emit', params: { event: 'ORDER_CANCELLED' } },
  ] as const;
  return [
    { guard: 'isOtherPayment', actions: 'recordRefund' },
    {
      guard: and(['completesFullRefund', 'wantsRestock']),
      target: '#order.CANCELLED',
      actions: [...cancel, 'restockItems'],
    },
    { guard: 'completesFullRefund', target: '#order.CANCELLED', actions: cancel },
    { actions: ['settleRefund', 'recordRefund'] },
  ] as const;
}
