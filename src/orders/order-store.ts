import type { EntityManager } from '@mikro-orm/postgresql';
import type { CancelReason, OrderStatus } from '../../machines/order.machine';
import {
  type OrderSnapshot,
  persistOrderSnapshot,
  restoreOrderSnapshot,
  stateOf,
  statusOf,
} from '../../machines/order-snapshot';
import { db } from '../db/database';
import { asDate, sql } from '../db/sql';
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
    confirmedAt: date(c.confirmedAt),
    cancelledAt: date(c.cancelledAt),
  };
}

export async function loadOrder(em: EntityManager, orderId: string): Promise<OrderRecord | undefined> {
  const row = await db(em)
    .selectFrom('orders')
    .select([
      'id',
      'order_no',
      'user_id',
      'subtotal',
      'discount',
      'total',
      'user_coupon_id',
      'coupon_code',
      'created_at',
      'version',
      'snapshot',
      'machine_version',
    ])
    .where('id', '=', orderId)
    .executeTakeFirst();
  if (!row) return undefined;
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

export function insertOrder(batch: WriteBatch, order: NewOrder, snapshot: OrderSnapshot, now: Date) {
  const p = projection(snapshot);
  const { snapshot: json, machineVersion } = persistOrderSnapshot(snapshot);
  batch.add(
    sql`insert into orders (id, order_no, user_id, status, state, snapshot, machine_version, subtotal, discount, total,
                            refunded_amount, payment_id, user_coupon_id, coupon_code, cancel_reason, expires_at,
                            paid_at, confirmed_at, cancelled_at, created_at, updated_at, version)
        values (${order.id}, ${order.orderNo}, ${order.userId}, ${p.status}, ${p.state}, ${JSON.stringify(json)}::jsonb,
                ${machineVersion}, ${order.subtotal}, ${order.discount}, ${order.total}, ${p.refundedAmount},
                ${p.paymentId}, ${order.userCouponId}, ${order.couponCode}, ${p.cancelReason}, ${p.expiresAt},
                ${p.paidAt}, ${p.confirmedAt}, ${p.cancelledAt}, ${now}, ${now}, 1)`,
  );
  const items = order.items;
  batch.add(
    sql`insert into order_items (id, order_id, product_id, name, category, unit_price, quantity, line_total)
        select id, ${order.id}, product_id, name, category, unit_price, quantity, unit_price * quantity
        from unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.productId)}::uuid[],
                    ${items.map((i) => i.name)}::text[], ${items.map((i) => i.category)}::text[],
                    ${items.map((i) => i.unitPrice)}::int[], ${items.map((i) => i.quantity)}::int[])
          as t(id, product_id, name, category, unit_price, quantity)`,
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
               paid_at = ${p.paidAt}, confirmed_at = ${p.confirmedAt}, cancelled_at = ${p.cancelledAt},
               updated_at = ${now}, version = version + 1
        where id = ${order.id} and version = ${order.version}`,
    1,
    () => new VersionConflictError('order', order.id),
  );
}

export function insertTransition(
  batch: WriteBatch,
  t: {
    orderId: string;
    from: OrderSnapshot | null;
    to: OrderSnapshot;
    event: string;
    messageId: string | null;
    at: Date;
  },
) {
  annotateActiveSpan({
    'shop.order.id': t.orderId,
    'shop.order.event': t.event,
    'shop.order.state_before': t.from ? stateOf(t.from) : '',
    'shop.order.state_after': stateOf(t.to),
  });
  batch.add(
    sql`insert into order_transitions (id, order_id, from_status, to_status, from_state, to_state, event, message_id, at)
        values (${uuidv7()}, ${t.orderId}, ${t.from ? statusOf(t.from) : null}, ${statusOf(t.to)},
                ${t.from ? stateOf(t.from) : null}, ${stateOf(t.to)}, ${t.event}, ${t.messageId}, ${t.at})`,
  );
}
