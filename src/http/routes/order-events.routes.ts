import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { AppContext } from '../../context';
import { rateLimited } from '../../errors/domain-error';
import { createOrderStatusHub } from '../../messaging/order-status-hub';
import { assertMayWatchOrder, feedOrderStatus } from '../../orders/order-status-stream';
import { acceptQueryToken, currentUser, requestToken, requireUser } from '../middleware/auth';
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
    '15 s. EventSource cannot send headers: the token may be given as `?access_token=` (here only; ' +
    'other routes ignore it). The token is checked again before each event and heartbeat: the stream ' +
    'ends once it is revoked (logout, password or role change) or expired. A user may hold ' +
    '`SSE_MAX_STREAMS_PER_USER` (5) streams open at once; one more answers 429.',
  security: bearerSecurity,
  middleware: requireUser,
  request: { params: idParam },
  responses: {
    200: {
      description: 'The event stream',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses('UNAUTHORIZED', 'ORDER_NOT_FOUND', 'RATE_LIMITED'),
  },
});

/**
 * Mounted at /orders, beside the orders router: the live order-status stream. Each user may hold
 * SSE_MAX_STREAMS_PER_USER streams open in this process at once; one more answers 429. The only route
 * that takes its token from `?access_token=`; the token is re-checked (through the token checker's
 * per-process cache, TOKEN_CHECK_CACHE_MS) before each event and heartbeat, and the stream ends once it
 * no longer speaks for the user.
 */
export function orderEventsRoutes(ctx: AppContext) {
  const hub = createOrderStatusHub(ctx);
  const openStreams = new Map<string, number>();
  const release = (userId: string) => {
    const left = (openStreams.get(userId) ?? 1) - 1;
    if (left > 0) openStreams.set(userId, left);
    else openStreams.delete(userId);
  };
  const router = createRouter();
  router.use('/:id/events', acceptQueryToken(ctx.tokenChecker));
  return router.openapi(events, async (c) => {
    const orderId = c.req.valid('param').id;
    const user = currentUser(c);
    const token = requestToken(c);
    const stillAllowed = async () =>
      token !== undefined && (await ctx.tokenChecker.authenticate(token))?.id === user.id;
    const current = await assertMayWatchOrder(ctx, user, orderId);
    const open = openStreams.get(user.id) ?? 0;
    if (open >= ctx.config.sseMaxStreamsPerUser) {
      throw rateLimited(
        {
          en: `At most ${ctx.config.sseMaxStreamsPerUser} live order streams at once; close one first`,
          ko: `주문 실시간 스트림은 동시에 최대 ${ctx.config.sseMaxStreamsPerUser}개까지 열 수 있습니다. 먼저 하나를 닫아 주세요`,
        },
        5,
      );
    }
    openStreams.set(user.id, open + 1);
    return streamSSE(
      c,
      async (stream) => {
        try {
          await feedOrderStatus(ctx, hub, stream, orderId, current, stillAllowed);
        } finally {
          release(user.id);
        }
      },
      async (error) => {
        ctx.log.warn({ err: String(error), orderId }, 'order status stream failed');
      },
    );
  });
}
