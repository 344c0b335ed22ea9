import { createRoute, z } from '@hono/zod-openapi';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { AppContext } from '../../context';
import { DomainError } from '../../errors/domain-error';
import { loadOrderStatus, type OrderStatusUpdate } from '../../messaging/order-status';
import { createOrderStatusHub, type OrderStatusHub } from '../../messaging/order-status-hub';
import type { AuthUser } from '../app-env';
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

async function readableStatus(ctx: AppContext, user: AuthUser, orderId: string) {
  const status = await loadOrderStatus(ctx.orm.em.fork(), orderId);
  if (!status || (status.userId !== user.id && user.role !== 'ADMIN'))
    throw new DomainError('ORDER_NOT_FOUND');
  return status;
}

/**
 * Feeds one client: subscribe first, then read the current status, so no change falls between the
 * two; every update is written only if its version is newer than the last one sent (repeats and
 * late events drop). Writes are chained so they never interleave.
 */
async function feed(ctx: AppContext, hub: OrderStatusHub, stream: SSEStreamingApi, orderId: string) {
  let lastVersion = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const send = (update: OrderStatusUpdate & { userId?: string }) => {
    writing = writing.then(async () => {
      if (update.version <= lastVersion || stream.aborted) return;
      lastVersion = update.version;
      const { userId: _owner, ...data } = update;
      await stream.writeSSE({ event: 'status', id: String(update.version), data: JSON.stringify(data) });
    });
  };
  const reload = () =>
    loadOrderStatus(ctx.orm.em.fork(), orderId).then(
      (current) => current && send(current),
      (error: unknown) => ctx.log.warn({ err: String(error), orderId }, 'order status reload failed'),
    );
  const ended = new Promise<void>((resolve) => {
    stream.onAbort(resolve);
    const unregister = hub.onClose(resolve);
    stream.onAbort(unregister);
  });
  const unsubscribe = await hub.subscribe(orderId, (update) => (update ? send(update) : void reload()));
  const heartbeat = setInterval(() => {
    writing = writing.then(() => stream.write(': heartbeat\n\n'));
  }, ctx.config.sseHeartbeatMs);
  try {
    await reload();
    await ended;
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
  }
}

/** Mounted at /orders, beside the orders router: the live order-status stream. */
export function orderEventsRoutes(ctx: AppContext) {
  const hub = createOrderStatusHub(ctx);
  return createRouter().openapi(events, async (c) => {
    const orderId = c.req.valid('param').id;
    await readableStatus(ctx, currentUser(c), orderId);
    return streamSSE(
      c,
      (stream) => feed(ctx, hub, stream, orderId),
      async (error) => {
        ctx.log.warn({ err: String(error), orderId }, 'order status stream failed');
      },
    ) as never;
  });
}
