import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { AppContext } from '../../context';
import { createOrderStatusHub } from '../../messaging/order-status-hub';
import { assertMayWatchOrder, feedOrderStatus } from '../../orders/order-status-stream';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses } from '../openapi';
import { idParam } from '../schemas/common';

const events = createRoute({
  method: 'get',
  path: '/{id}/events',
  tags: ['Orders'],
  summary: 'Live status of an order (Server-Sent Events; owner or admin)',
  description:
    'An `event: status` with `{orderId, status, state, cancelReason, version, updatedAt}` at once and on ' +
    'every change (pushed from any process through Redis pub/sub), and a `: heartbeat` comment every ' +
    '15 s. EventSource cannot send headers: the token may be given as `?access_token=`.',
  security: bearerSecurity,
  middleware: requireUser,
  request: { params: idParam },
  responses: {
    200: {
      description: 'The event stream',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND'),
  },
});

/** Mounted at /orders, beside the orders router: the live order-status stream. */
export function orderEventsRoutes(ctx: AppContext) {
  const hub = createOrderStatusHub(ctx);
  return createRouter().openapi(events, async (c) => {
    const orderId = c.req.valid('param').id;
    await assertMayWatchOrder(ctx, currentUser(c), orderId);
    return streamSSE(
      c,
      (stream) => feedOrderStatus(ctx, hub, stream, orderId),
      async (error) => {
        ctx.log.warn({ err: String(error), orderId }, 'order status stream failed');
      },
    );
  });
}
