import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { asDate, preparedStatement, query, sql } from '../db/sql';
import { publishTo } from './pubsub';

/** What the live order-status stream shows: the order's status and full state, newest version wins. */
export interface OrderStatusUpdate {
  orderId: string;
  status: string;
  state: string;
  cancelReason: string | null;
  /** The order row's version: a client (and the stream) drops anything not newer than what it has. */
  version: number;
  updatedAt: string;
}

/**
 * The one channel of every order's change pings; a message is the changed orders' ids, comma-separated.
 * One channel, not one per order: an events job's changes cost one PUBLISH, and a process with streams
 * holds one subscription however many orders they watch.
 */
export const orderStatusChannel = (ctx: Pick<AppContext, 'key'>) => ctx.key('order-status');

/** A ping as received: the order ids in it. */
export const parseOrderStatusPing = (message: string): string[] => message.split(',');

/** The order's current status and its owner, straight from PostgreSQL. */
export async function loadOrderStatus(
  em: EntityManager,
  orderId: string,
): Promise<(OrderStatusUpdate & { userId: string }) | undefined> {
  const [row] = await query<
    Row<'orders', 'user_id' | 'status' | 'state' | 'cancel_reason' | 'version' | 'updated_at'>
  >(
    em,
    // Named: every status stream reads it on each of its order's changes (one plan per connection).
    preparedStatement(
      sql`select user_id, status, state, cancel_reason, version, updated_at from orders where id = ${orderId}`,
    ),
  );
  if (!row) return undefined;
  return {
    orderId,
    userId: row.user_id,
    status: row.status,
    state: row.state,
    cancelReason: row.cancel_reason,
    version: row.version,
    updatedAt: asDate(row.updated_at).toISOString(),
  };
}

/**
 * Tells every process's subscribers (SSE streams) that these orders changed, in one PUBLISH. The
 * message is only a ping: watchers read the current status themselves, so publishing costs no query
 * when nobody watches, and a watcher always shows the latest state whatever order pings arrive in.
 */
export async function announceOrderChanges(ctx: AppContext, orderIds: string[]): Promise<void> {
  const unique = [...new Set(orderIds)];
  if (unique.length > 0) await publishTo(ctx.redis, orderStatusChannel(ctx), unique.join(','));
}
