import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../db/database';
import type { PaymentMethod, PaymentStatus } from '../db/schema/payment.entity';
import type { RefundStatus } from '../db/schema/refund.entity';
import { asIso, query, sql } from '../db/sql';

export interface PaymentView {
  id: string;
  orderId: string;
  userId: string;
  method: PaymentMethod;
  amount: number;
  status: PaymentStatus;
  failureReason: string | null;
  refundedAmount: number;
  attempts: number;
  createdAt: string;
  completedAt: string | null;
}

export interface RefundView {
  id: string;
  paymentId: string;
  orderId: string;
  userId: string;
  amount: number;
  reason: string | null;
  restock: boolean;
  status: RefundStatus;
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** Payments matching `where`, newest first unless `orderBy` says otherwise; `page` limits them to one page. */
export async function loadPaymentViews(
  em: EntityManager,
  where: ReturnType<typeof sql>,
  page?: { page: number; size: number },
  orderBy: ReturnType<typeof sql> = sql`created_at desc, id desc`,
): Promise<PaymentView[]> {
  const limit = page ? sql`limit ${page.size} offset ${page.page * page.size}` : sql``;
  const rows = await query<
    Row<
      'payments',
      | 'id'
      | 'order_id'
      | 'user_id'
      | 'method'
      | 'amount'
      | 'status'
      | 'failure_reason'
      | 'refunded_amount'
      | 'attempts'
      | 'created_at'
      | 'completed_at'
    >
  >(
    em,
    sql`select id, order_id, user_id, method, amount, status, failure_reason, refunded_amount, attempts, created_at,
               completed_at
        from payments where ${where} order by ${orderBy} ${limit}`,
  );
  return rows.map((r) => ({
    id: r.id,
    orderId: r.order_id,
    userId: r.user_id,
    method: r.method,
    amount: r.amount,
    status: r.status,
    failureReason: r.failure_reason,
    refundedAmount: r.refunded_amount,
    attempts: r.attempts,
    createdAt: asIso(r.created_at),
    completedAt: asIso(r.completed_at),
  }));
}

export async function loadPaymentView(em: EntityManager, id: string): Promise<PaymentView | undefined> {
  const [view] = await loadPaymentViews(em, sql`id = ${id}`);
  return view;
}

export async function loadRefundView(em: EntityManager, id: string): Promise<RefundView | undefined> {
  const [r] = await query<
    Row<
      'refunds',
      | 'id'
      | 'payment_id'
      | 'order_id'
      | 'user_id'
      | 'amount'
      | 'reason'
      | 'restock'
      | 'status'
      | 'failure_reason'
      | 'created_at'
      | 'completed_at'
    >
  >(
    em,
    sql`select id, payment_id, order_id, user_id, amount, reason, restock, status, failure_reason, created_at,
               completed_at
        from refunds where id = ${id}`,
  );
  if (!r) return undefined;
  return {
    id: r.id,
    paymentId: r.payment_id,
    orderId: r.order_id,
    userId: r.user_id,
    amount: r.amount,
    reason: r.reason,
    restock: r.restock,
    status: r.status,
    failureReason: r.failure_reason,
    createdAt: asIso(r.created_at),
    completedAt: asIso(r.completed_at),
  };
}
