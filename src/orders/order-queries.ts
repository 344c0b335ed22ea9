import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import { db } from '../db/database';
import { sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { NEWEST_FIRST, type PageRequest, pageMeta, type SortRequest } from '../paging';
import { inspectOrder, loadOrderHistory, type TransitionRecord } from './order-inspection';
import { loadOrderView, loadOrderViews, type OrderView } from './order-view';

/** The owner and admins see an order; anyone else is told it does not exist. */
export async function getOrder(ctx: AppContext, user: AuthUser, orderId: string): Promise<OrderView> {
  const view = await loadOrderView(ctx.orm.em.fork(), orderId);
  if (!view || (view.userId !== user.id && user.role !== 'ADMIN')) throw new DomainError('ORDER_NOT_FOUND');
  return view;
}

/** What `GET /orders?sort=` may order by (the API's names), and their columns. */
export const ORDER_SORT_FIELDS = ['createdAt', 'total'] as const;
export type OrderSortField = (typeof ORDER_SORT_FIELDS)[number];
const ORDER_SORT_COLUMNS = { createdAt: 'created_at', total: 'total' } as const satisfies Record<
  OrderSortField,
  string
>;

type OrderListFilter = {
  status?: string | undefined;
  sort?: SortRequest<OrderSortField> | undefined;
} & PageRequest;

/** The caller’s orders, newest first unless `sort` says otherwise (id breaks ties the same way). */
export function listOrders(ctx: AppContext, user: AuthUser, filter: OrderListFilter) {
  return pageOfOrders(ctx, { userId: user.id }, filter);
}

/** Whose orders an admin looks for: a buyer (by id or email) or one order number; each given must match. */
export interface OrderSearch {
  userId?: string | undefined;
  email?: string | undefined;
  orderNo?: string | undefined;
}

/**
 * Any buyer's orders, for support (GET /admin/orders): the same page as the buyer's own list. At
 * least one of the search's fields is required (the route says so), and each has an index.
 */
export function searchOrders(ctx: AppContext, search: OrderSearch, filter: OrderListFilter) {
  return pageOfOrders(ctx, search, filter);
}

/** One page of the orders a search picks, with the status filter: three statements (ids, count, views). */
async function pageOfOrders(ctx: AppContext, search: OrderSearch, filter: OrderListFilter) {
  const em = ctx.orm.em.fork();
  const sort = filter.sort ?? NEWEST_FIRST;
  const status = filter.status ?? null;
  const userId = search.userId ?? null;
  const email = search.email?.toLowerCase() ?? null;
  const orderNo = search.orderNo ?? null;
  const mine = db(em)
    .selectFrom('orders')
    .where(sql<boolean>`(${userId}::uuid is null or user_id = ${userId}::uuid)`)
    .where(
      sql<boolean>`(${email}::text is null or user_id = (select id from users where email = ${email}::text))`,
    )
    .where(sql<boolean>`(${orderNo}::text is null or order_no = ${orderNo}::text)`)
    .where(sql<boolean>`(${status}::text is null or status = ${status})`);
  const [ids, count] = await Promise.all([
    mine
      .select('id')
      .orderBy(ORDER_SORT_COLUMNS[sort.field], sort.direction)
      .orderBy('id', sort.direction)
      .limit(filter.size)
      .offset(filter.page * filter.size)
      .execute(),
    mine.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  const views = await loadOrderViews(
    em,
    ids.map((r) => r.id),
  );
  return { data: views, meta: pageMeta(filter, count.n) };
}

export async function orderHistory(
  ctx: AppContext,
  user: AuthUser,
  orderId: string,
): Promise<TransitionRecord[]> {
  const em = ctx.orm.em.fork();
  const owner = await db(em)
    .selectFrom('orders')
    .select('user_id')
    .where('id', '=', orderId)
    .executeTakeFirst();
  if (!owner || (owner.user_id !== user.id && user.role !== 'ADMIN'))
    throw new DomainError('ORDER_NOT_FOUND');
  return loadOrderHistory(em, orderId);
}

/** The live machine behind an order (API.md `GET /orders/{id}/machine`): owner or admin. */
export async function orderMachineState(ctx: AppContext, user: AuthUser, orderId: string) {
  const inspected = await inspectOrder(ctx.orm.em.fork(), orderId);
  if (!inspected || (inspected.userId !== user.id && user.role !== 'ADMIN'))
    throw new DomainError('ORDER_NOT_FOUND');
  return inspected;
}
