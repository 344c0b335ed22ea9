import { createRoute, z } from '@hono/zod-openapi';
import { dispatchOrderCommand } from '../../commands/dispatch';
import type { AppContext } from '../../context';
import { placeThroughGate } from '../../orders/gated-placement';
import {
  getOrder,
  listOrders,
  orderHistory,
  orderMachineState,
  searchOrders,
} from '../../orders/order-queries';
import { commandResponse, refusalResponse } from '../command-response';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { currentUser, requireRole, requireUser } from '../middleware/auth';
import { emptyJsonBodyIsNone } from '../middleware/empty-json-body';
import { noStore } from '../middleware/no-store';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam, pagingQuery } from '../schemas/common';
import {
  AdminOrderQuery,
  CancelOrderBody,
  CommandReceiptSchema,
  IdempotencyKeyHeader,
  OrderListQuery,
  OrderSchema,
  PlaceOrderBody,
  TransitionSchema,
} from '../schemas/order.schemas';

const tags = ['Orders'];
const guarded = { security: bearerSecurity, middleware: requireUser, tags };
const accepted = jsonContent(dataEnvelope(CommandReceiptSchema), 'Still being processed: poll the Location');

const place = createRoute({
  method: 'post',
  path: '/',
  summary: 'Place an order from explicit items or from the cart',
  ...guarded,
  request: { headers: IdempotencyKeyHeader, ...jsonBody(PlaceOrderBody) },
  responses: {
    201: jsonContent(dataEnvelope(OrderSchema), 'The order, PENDING, with its stock reserved'),
    202: accepted,
    ...errorResponses(
      'UNAUTHORIZED',
      'OUT_OF_STOCK',
      'PRODUCT_NOT_AVAILABLE',
      'PRODUCT_NOT_FOUND',
      'CART_EMPTY',
      'COUPON_NOT_APPLICABLE',
      'COUPON_ALREADY_USED',
      'IDEMPOTENCY_KEY_MISMATCH',
    ),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  summary: "The caller's orders, newest first",
  ...guarded,
  request: { query: OrderListQuery.extend(pagingQuery) },
  responses: {
    200: jsonContent(pageEnvelope(OrderSchema), 'A page of orders'),
    ...errorResponses('UNAUTHORIZED'),
  },
});

const detail = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'One order (owner or admin)',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(OrderSchema), 'The order'),
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND'),
  },
});

const history = createRoute({
  method: 'get',
  path: '/{id}/history',
  summary: 'Every transition the order took',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(z.array(TransitionSchema)), 'One row per transition, oldest first'),
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND'),
  },
});

const OrderMachineSchema = z
  .object({
    orderId: z.uuid(),
    status: z.string(),
    state: z.string(),
    value: z.unknown(),
    context: z.record(z.string(), z.unknown()),
    allowedEvents: z.array(z.string()),
    handledEvents: z.array(z.string()),
    machineVersion: z.number().int(),
    history: z.array(TransitionSchema),
  })
  .openapi('OrderMachine');

const machine = createRoute({
  method: 'get',
  path: '/{id}/machine',
  summary: 'The live order machine: state value, context, allowed events and history',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(OrderMachineSchema), 'The machine as it stands for this order'),
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND'),
  },
});

const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  summary: 'Cancel an order (a paid one is refunded in full first)',
  ...guarded,
  middleware: [requireUser, emptyJsonBodyIsNone] as const,
  request: {
    params: idParam,
    body: { content: { 'application/json': { schema: CancelOrderBody } }, required: false },
  },
  responses: {
    200: jsonContent(dataEnvelope(OrderSchema), 'The order, CANCELLED'),
    202: jsonContent(
      dataEnvelope(z.union([OrderSchema, CommandReceiptSchema])),
      'A paid order: its refund runs, then it is CANCELLED (or a command receipt to poll when the order was slow to answer)',
    ),
    ...errorResponses(
      'UNAUTHORIZED',
      'ORDER_NOT_FOUND',
      'ORDER_ALREADY_CANCELLED',
      'INVALID_ORDER_TRANSITION',
    ),
  },
});

const confirm = createRoute({
  method: 'post',
  path: '/{id}/confirm',
  summary: 'Confirm receipt of a paid order',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(OrderSchema), 'The order, CONFIRMED'),
    202: accepted,
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND', 'INVALID_ORDER_TRANSITION'),
  },
});

/** Mounted at /orders. Commands go to the order actor's mailbox; queries read the database. */
export function orderRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(place, async (c) => {
      const user = currentUser(c);
      const body = c.req.valid('json');
      const outcome = await placeThroughGate(
        ctx,
        { userId: user.id, role: user.role, ...body },
        c.req.valid('header')['idempotency-key'],
      );
      if (outcome.state === 'sold-out') {
        // The stock gate's answer: no mailbox, no database, nothing thrown.
        return refusalResponse(c, place, 'OUT_OF_STOCK', outcome.details);
      }
      return commandResponse(c, place, outcome);
    })
    .openapi(list, async (c) => {
      const { status, sort, page, size } = c.req.valid('query');
      return c.json(await listOrders(ctx, currentUser(c), { status, sort, page, size }), 200);
    })
    .openapi(detail, async (c) =>
      c.json({ data: await getOrder(ctx, currentUser(c), c.req.valid('param').id) }, 200),
    )
    .openapi(history, async (c) =>
      c.json({ data: await orderHistory(ctx, currentUser(c), c.req.valid('param').id) }, 200),
    )
    .openapi(machine, async (c) => {
      const { userId: _owner, ...inspected } = await orderMachineState(
        ctx,
        currentUser(c),
        c.req.valid('param').id,
      );
      return c.json({ data: inspected }, 200);
    })
    .openapi(cancel, async (c) => {
      const user = currentUser(c);
      const body = (c.req.valid('json') ?? {}) as { reason?: string };
      const outcome = await dispatchOrderCommand(ctx, 'CANCEL', {
        userId: user.id,
        role: user.role,
        orderId: c.req.valid('param').id,
        reason: body.reason,
      });
      return commandResponse(c, cancel, outcome);
    })
    .openapi(confirm, async (c) => {
      const user = currentUser(c);
      const outcome = await dispatchOrderCommand(ctx, 'CONFIRM', {
        userId: user.id,
        role: user.role,
        orderId: c.req.valid('param').id,
      });
      return commandResponse(c, confirm, outcome);
    });
}

const search = createRoute({
  method: 'get',
  path: '/',
  tags: ['Admin'],
  summary: "Any buyer's orders, by buyer (id or email) or order number",
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { query: AdminOrderQuery },
  responses: {
    200: jsonContent(pageEnvelope(OrderSchema), 'A page of orders, newest first unless sorted'),
    ...errorResponses('VALIDATION_ERROR', 'UNAUTHORIZED', 'FORBIDDEN'),
  },
});

/**
 * Mounted at /admin/orders: support finds a customer's orders (GET /orders/{id} already admits admins).
 * Other people's data: never cached (Cache-Control: no-store).
 */
export function adminOrderRoutes(ctx: AppContext) {
  const router = createRouter();
  router.use('*', noStore);
  return router.openapi(search, async (c) => {
    const { userId, email, orderNo, status, sort, page, size } = c.req.valid('query');
    return c.json(await searchOrders(ctx, { userId, email, orderNo }, { status, sort, page, size }), 200);
  });
}
