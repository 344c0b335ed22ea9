import type { SSEStreamingApi } from 'hono/streaming';
import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import { DomainError } from '../errors/domain-error';
import { loadOrderStatus, type OrderStatusUpdate } from '../messaging/order-status';
import type { OrderStatusHub } from '../messaging/order-status-hub';

/**
 * The owner and admins may watch an order; anyone else is told it does not exist. Returns the status
 * it read, which the stream sends first.
 */
export async function assertMayWatchOrder(ctx: AppContext, user: AuthUser, orderId: string) {
  const status = await loadOrderStatus(ctx.orm.em.fork(), orderId);
  if (!status || (status.userId !== user.id && user.role !== 'ADMIN'))
    throw new DomainError('ORDER_NOT_FOUND');
  return status;
}

/**
 * Feeds one client: the current status, then every change. Each ping (and the subscription itself)
 * reads the status again; it is written only if its version is newer than the last one sent
 * (repeats and late pings drop). Writes are chained so they never interleave.
 */
export async function feedOrderStatus(
  ctx: AppContext,
  hub: OrderStatusHub,
  stream: SSEStreamingApi,
  orderId: string,
  /** The status as just read (the access check's read): sent at once, without another query. */
  current?: OrderStatusUpdate,
) {
  let lastVersion = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const send = (update: OrderStatusUpdate & { userId?: string }) => {
    writing = writing
      .then(async () => {
        if (update.version <= lastVersion || stream.aborted) return;
        lastVersion = update.version;
        const { userId: _owner, ...data } = update;
        await stream.writeSSE({ event: 'status', id: String(update.version), data: JSON.stringify(data) });
      })
      .catch(() => undefined);
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
  // The current status at once, even if the subscription waits for Redis.
  if (current) send(current);
  else await reload();
  const heartbeat = setInterval(() => {
    writing = writing.then(() => stream.write(': heartbeat\n\n')).catch(() => undefined);
  }, ctx.config.sseHeartbeatMs);
  try {
    const unsubscribe = await hub.subscribe(orderId, () => void reload());
    try {
      // A change committed between the first read and the subscription is read here.
      await reload();
      await ended;
    } finally {
      unsubscribe();
    }
  } finally {
    clearInterval(heartbeat);
  }
}
