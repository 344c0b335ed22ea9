import type { EntityManager } from '@mikro-orm/postgresql';
import type { CancelReason, OrderStatus } from '../../machines/order.machine';
import {
  type OrderSnapshot,
  persistOrderSnapshot,
  restoreOrderSnapshot,
  stateOf,
  statusOf,
} from '../../machines/order-snapshot';
import type { Row } from '../db/database';
import { asDate, preparedStatement, query, sql } from '../db/sql';
import type { WriteBatch } from '../db/write-batch';
import { VersionConflictError } from '../errors/version-conflict.error';
import { uuidv7 } from '../ids';
import { annotateActiveSpan } from '../tracing/tracing';

/** An order row as the worker loads it: identity, money, and the snapshot that is its state. */
export interface OrderRecord {
  id: string;
  orderNo: string;
  userId: string;
  subtotal: number;
  discount: number;
  total: number;
  userCouponId: string | null;
  couponCode: string | null;
  createdAt: Date;
  version: number;
  snapshot: OrderSnapshot;
}

export interface NewOrder extends Omit<OrderRecord, 'version' | 'snapshot'> {
  items: NewOrderItem[];
}

export interface NewOrderItem {
  id: string;
  productId: string;
  name: string;
  category: string;
  unitPrice: number;
  quantity: number;
}

/** The columns that mirror the snapshot. Written only here, always together with the snapshot. */
function projection(snapshot: OrderSnapshot) {
  const c = snapshot.context;
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  return {
    status: statusOf(snapshot) as OrderStatus,
    state: stateOf(snapshot),
    refundedAmount: c.refundedAmount,
    paymentId: c.paymentId,
    cancelReason: c.cancelReason as CancelReason | null,
    expiresAt: new Date(c.expiresAt),
    paidAt: date(c.paidAt),
    autoConfirmAt: date(c.paidAt === null ? null : c.paidAt + c.autoConfirmMs),
    confirmedAt: date(c.confirmedAt),
    cancelledAt: date(c.cancelledAt),
  };
}

type OrderRecordRow = Row<
  'orders',
  | 'id'
  | 'order_no'
  | 'user_id'
  | 'subtotal'
  | 'discount'
  | 'total'
  | 'user_coupon_id'
  | 'coupon_code'
  | 'created_at'
  | 'version'
  | 'snapshot'
  | 'machine_version'
>;

const ORDER_RECORD_COLUMNS = sql.raw(
  'o.id, o.order_no, o.user_id, o.subtotal, o.discount, o.total, o.user_coupon_id, o.coupon_code, o.created_at, o.version, o.snapshot, o.machine_version',
);

export async function loadOrder(em: EntityManager, orderId: string): Promise<OrderRecord | undefined> {
  const [row] = await query<OrderRecordRow>(
    em,
    preparedStatement(sql`select ${ORDER_RECORD_COLUMNS} from orders o where o.id = ${orderId}`),
  );
  return row && orderRecord(row);
}

/**
 * Records `messageId` as processed by the order actor and loads the order, in one statement:
 * 'duplicate' when the message was recorded already (nothing read), undefined when no such order.
 */
export async function recordAndLoadOrder(
  em: EntityManager,
  messageId: string,
  orderId: string,
  now: Date,
): Promise<OrderRecord | 'duplicate' | undefined> {
  const [row] = await query<{ first: number } & Partial<OrderRecordRow>>(
    em,
    preparedStatement(sql`with first as (
          insert into processed_messages (consumer, message_id, processed_at) values ('order', ${messageId}, ${now})
          on conflict do nothing returning 1)
        select (select count(*) from first)::int as first, ${ORDER_RECORD_COLUMNS}
        from (select 1) as one left join orders o on o.id = ${orderId}`),
  );
  if (row?.first !== 1) return 'duplicate';
  return row.id === undefined || row.id === null ? undefined : orderRecord(row as OrderRecordRow);
}

function orderRecord(row: OrderRecordRow): OrderRecord {
  return {
    id: row.id,
    orderNo: row.order_no,
    userId: row.user_id,
    subtotal: row.subtotal,
    discount: row.discount,
    total: row.total,
    userCouponId: row.user_coupon_id,
    couponCode: row.coupon_code,
    createdAt: asDate(row.created_at),
    version: row.version,
    snapshot: restoreOrderSnapshot({ snapshot: row.snapshot, machineVersion: row.machine_version }),
  };
}

/** New orders and their items: one multi-row INSERT per table, whatever the number of orders. */
export function insertOrders(
  batch: WriteBatch,
  entries: { order: NewOrder; snapshot: OrderSnapshot }[],
  now: Date,
) {
  const rows = entries.map(({ order, snapshot }) => ({
    order,
    p: projection(snapshot),
    persisted: persistOrderSnapshot(snapshot),
  }));
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  batch.add(
    sql`insert into orders (id, order_no, user_id, status, state, snapshot, machine_version, subtotal, discount, total,
                            refunded_amount, payment_id, user_coupon_id, coupon_code, cancel_reason, expires_at,
                            paid_at, auto_confirm_at, confirmed_at, cancelled_at, created_at, updated_at, version)
        select id, order_no, user_id, status, state, snapshot, machine_version, subtotal, discount, total,
               refunded_amount, payment_id, user_coupon_id, coupon_code, cancel_reason, expires_at,
               paid_at, auto_confirm_at, confirmed_at, cancelled_at, ${now}, ${now}, 1
        from unnest(${column((r) => r.order.id)}::uuid[], ${column((r) => r.order.orderNo)}::text[],
                    ${column((r) => r.order.userId)}::uuid[], ${column((r) => r.p.status)}::text[],
                    ${column((r) => r.p.state)}::text[],
                    ${column((r) => JSON.stringify(r.persisted.snapshot))}::jsonb[],
                    ${column((r) => r.persisted.machineVersion)}::int[], ${column((r) => r.order.subtotal)}::int[],
                    ${column((r) => r.order.discount)}::int[], ${column((r) => r.order.total)}::int[],
                    ${column((r) => r.p.refundedAmount)}::int[], ${column((r) => r.p.paymentId)}::uuid[],
                    ${column((r) => r.order.userCouponId)}::uuid[], ${column((r) => r.order.couponCode)}::text[],
                    ${column((r) => r.p.cancelReason)}::text[], ${column((r) => r.p.expiresAt)}::timestamptz[],
                    ${column((r) => r.p.paidAt)}::timestamptz[], ${column((r) => r.p.autoConfirmAt)}::timestamptz[],
                    ${column((r) => r.p.confirmedAt)}::timestamptz[], ${column((r) => r.p.cancelledAt)}::timestamptz[])
          as t(id, order_no, user_id, status, state, snapshot, machine_version, subtotal, discount, total,
               refunded_amount, payment_id, user_coupon_id, coupon_code, cancel_reason, expires_at,
               paid_at, auto_confirm_at, confirmed_at, cancelled_at)`,
  );
  const items = entries.flatMap(({ order }) => order.items.map((item) => ({ orderId: order.id, ...item })));
  batch.add(
    sql`insert into order_items (id, order_id, product_id, name, category, unit_price, quantity, line_total)
        select id, order_id, product_id, name, category, unit_price, quantity, unit_price * quantity
        from unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.orderId)}::uuid[],
                    ${items.map((i) => i.productId)}::uuid[], ${items.map((i) => i.name)}::text[],
                    ${items.map((i) => i.category)}::text[], ${items.map((i) => i.unitPrice)}::int[],
                    ${items.map((i) => i.quantity)}::int[])
          as t(id, order_id, product_id, name, category, unit_price, quantity)`,
  );
}

/** Compare-and-set on `version`: zero rows means another message won, and this step is retried. */
export function saveOrder(batch: WriteBatch, order: OrderRecord, next: OrderSnapshot, now: Date) {
  const p = projection(next);
  const { snapshot: json, machineVersion } = persistOrderSnapshot(next);
  batch.addExpecting(
    sql`update orders set snapshot = ${JSON.stringify(json)}::jsonb, machine_version = ${machineVersion},
               status = ${p.status}, state = ${p.state}, refunded_amount = ${p.refundedAmount},
               payment_id = ${p.paymentId}, cancel_reason = ${p.cancelReason}, expires_at = ${p.expiresAt},
               paid_at = ${p.paidAt}, auto_confirm_at = ${p.autoConfirmAt}, confirmed_at = ${p.confirmedAt},
               cancelled_at = ${p.cancelledAt},
               updated_at = ${now}, version = version + 1
        where id = ${order.id} and version = ${order.version}`,
    1,
    () => new VersionConflictError('order', order.id),
  );
}

/** One history row per step. */
export interface TransitionRow {
  orderId: string;
  from: OrderSnapshot | null;
  to: OrderSnapshot;
  event: string;
  messageId: string | null;
  at: Date;
}

export function insertTransitions(batch: WriteBatch, transitions: TransitionRow[]) {
  const t = transitions;
  const [only] = t;
  if (only && t.length === 1) {
    annotateActiveSpan({
      'shop.order.id': only.orderId,
      'shop.order.event': only.event,
      'shop.order.state_before': only.from ? stateOf(only.from) : '',
      'shop.order.state_after': stateOf(only.to),
    });
  } else annotateActiveSpan({ 'shop.order.batch_size': t.length });
  batch.add(
    sql`insert into order_transitions (id, order_id, from_status, to_status, from_state, to_state, event, message_id, at)
        select * from unnest(${t.map(() => uuidv7())}::uuid[], ${t.map((x) => x.orderId)}::uuid[],
                             ${t.map((x) => (x.from ? statusOf(x.from) : null))}::text[],
                             ${t.map((x) => statusOf(x.to))}::text[],
                             ${t.map((x) => (x.from ? stateOf(x.from) : null))}::text[],
                             ${t.map((x) => stateOf(x.to))}::text[], ${t.map((x) => x.event)}::text[],
                             ${t.map((x) => x.messageId)}::text[], ${t.map((x) => x.at)}::timestamptz[])`,
  );
}
