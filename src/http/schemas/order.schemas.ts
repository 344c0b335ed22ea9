import { z } from '@hono/zod-openapi';
import { ORDER_STATUSES } from '../../../machines/order.machine';
import { MAX_CART_QUANTITY } from '../../db/schema/cart-item.entity';
import { ORDER_SORT_FIELDS } from '../../orders/order-queries';
import { text } from '../../validation/text';
import { idInput, pagingQuery, sortByQuery } from './common';

export const MAX_ORDER_LINES = 100;

const OrderLine = z.object({
  productId: idInput(),
  quantity: z.number().int().min(1).max(MAX_CART_QUANTITY),
});

export const PlaceOrderBody = z
  .object({
    items: z.array(OrderLine).min(1).max(MAX_ORDER_LINES).optional(),
    fromCart: z.boolean().optional(),
    productIds: z.array(idInput()).min(1).max(MAX_ORDER_LINES).optional(),
    userCouponId: idInput().nullable().optional(),
  })
  .refine((b) => (b.items !== undefined) !== (b.fromCart === true), {
    message: 'give either items or fromCart: true',
    path: ['items'],
  })
  .refine((b) => b.productIds === undefined || b.fromCart === true, {
    message: 'productIds selects cart lines and needs fromCart: true',
    path: ['productIds'],
  })
  .openapi('PlaceOrder');

export const CancelOrderBody = z.object({ reason: text().trim().max(500).optional() }).openapi('CancelOrder');

const idempotencyKey = z
  .string()
  .max(255)
  .regex(/^[\x21-\x7e]*$/, 'printable ASCII without spaces')
  .optional()
  // An empty header is no key: POST /payments and /refunds answer IDEMPOTENCY_KEY_REQUIRED for it.
  .transform((key) => (key === '' ? undefined : key));

export const IdempotencyKeyHeader = z.object({
  'idempotency-key': idempotencyKey.openapi({
    description: 'Idempotency-Key: the same key returns the first answer again',
  }),
});

/**
 * The key of POST /payments and /refunds: required in the document (and so in the generated client),
 * while a request without one still reaches the service, which answers 400 IDEMPOTENCY_KEY_REQUIRED.
 */
export const RequiredIdempotencyKeyHeader = z.object({
  'idempotency-key': idempotencyKey.openapi({
    description: 'Idempotency-Key (required): the same key returns the first answer again',
    param: { required: true },
  }),
});

export const OrderListQuery = z.object({
  status: z.enum(ORDER_STATUSES).optional(),
  sort: sortByQuery(ORDER_SORT_FIELDS),
});

/** GET /admin/orders: whose orders (at least one of userId, email, orderNo), then the list's own filters. */
export const AdminOrderQuery = OrderListQuery.extend({
  userId: z.uuid().optional().openapi({ description: "the buyer's id" }),
  email: z.email().max(254).optional().openapi({ description: "the buyer's email (any case)" }),
  orderNo: z
    .string()
    .regex(/^\d{16}$/, 'yyyyMMdd and an 8-digit sequence')
    .optional()
    .openapi({ description: 'one order number', example: '2026120700000042' }),
  ...pagingQuery,
}).refine((q) => q.userId !== undefined || q.email !== undefined || q.orderNo !== undefined, {
  path: ['userId'],
  message: 'give userId, email or orderNo',
});

export const OrderItemSchema = z.object({
  id: z.uuid(),
  productId: z.uuid(),
  name: z.string(),
  unitPrice: z.number().int(),
  quantity: z.number().int(),
  lineTotal: z.number().int(),
});

export const OrderSchema = z
  .object({
    id: z.uuid(),
    orderNo: z.string().openapi({ example: '2026112100000042' }),
    userId: z.uuid(),
    status: z.enum(ORDER_STATUSES),
    state: z.string().openapi({ example: 'PENDING.awaitingPayment' }),
    items: z.array(OrderItemSchema),
    subtotal: z.number().int(),
    discount: z.number().int(),
    total: z.number().int(),
    refundedAmount: z.number().int(),
    coupon: z
      .object({ userCouponId: z.uuid(), code: z.string().nullable(), discount: z.number().int() })
      .nullable(),
    payment: z.object({ id: z.uuid(), status: z.string(), method: z.string() }).nullable(),
    allowedActions: z.array(z.enum(['PAY', 'CANCEL', 'CONFIRM', 'REFUND'])),
    expiresAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    paidAt: z.string().nullable(),
    confirmedAt: z.string().nullable(),
    cancelledAt: z.string().nullable(),
    cancelReason: z.string().nullable(),
  })
  .openapi('Order');

export const TransitionSchema = z
  .object({
    fromStatus: z.string().nullable(),
    toStatus: z.string(),
    from: z.string().nullable(),
    to: z.string(),
    event: z.string(),
    at: z.string(),
  })
  .openapi('OrderTransition');

export const CommandReceiptSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(['QUEUED', 'DONE', 'FAILED']),
    resource: z.string().optional(),
    error: z.object({ error: z.string(), message: z.string() }).optional(),
  })
  .openapi('CommandReceipt');
