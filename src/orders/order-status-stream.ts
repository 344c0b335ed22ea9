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
 * (repeats and late pings drop). Writes are chained so they never interleave. Before each status and
 * each heartbeat `stillAllowed` is asked (the watcher's token may have been revoked since the stream
 * opened): once it says no, or fails, nothing more is written and the feed returns (the stream ends).
 */
export async function feedOrderStatus(
  ctx: AppContext,
  hub: OrderStatusHub,
  stream: SSEStreamingApi,
  orderId: string,
  /** The status as just read (the access check's read): sent at once, without another query. */
  current?: OrderStatusUpdate,
  stillAllowed?: () => Promise<boolean>,
) {
  let lastVersion = 0;
  let writing: Promise<unknown> = Promise.resolve();
  let stop = () => {};
  let refused = false;
  /** Whether the next write may go out; ends the feed the first time it may not. */
  const mayWrite = async () => {
    if (refused || stream.aborted) return false;
    if (!stillAllowed) return true;
    const allowed = await stillAllowed().catch((error: unknown) => {
      ctx.log.warn({ err: String(error), orderId }, 'order status stream: watcher check failed');
      return false;
    });
    if (!allowed) {
      refused = true;
      stop();
    }
    return allowed;
  };
  const send = (update: OrderStatusUpdate & { userId?: string }) => {
    writing = writing
      .then(async () => {
        if (update.version <= lastVersion || stream.aborted) return;
        if (!(await mayWrite())) return;
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
    stop = () => {
      unregister();
      resolve();
    };
  });
  // The current status at once, even if the subscription waits for Redis.
  if (current) send(current);
  else await reload();
  const heartbeat = setInterval(() => {
    writing = writing
      .then(async () => {
        if (await mayWrite()) await stream.write(': heartbeat\n\n');
      })
      .catch(() => undefined);
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
