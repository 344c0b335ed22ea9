import type { AuthUser } from '../auth/auth-user';
import { type CommandResult, dispatchOrderCommand } from '../commands/dispatch';
import type { AppContext } from '../context';
import type { PaymentMethod, PaymentStatus } from '../db/schema/payment.entity';
import { query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { NEWEST_FIRST, orderBySql, type PageRequest, pageMeta, type SortRequest } from '../paging';
import { loadPaymentView, loadPaymentViews, type PaymentView } from './payment-view';

/** Money-moving requests must be safe to retry, so they must say which request they are. */
export function requireIdempotencyKey(key: string | undefined): string {
  if (!key) throw new DomainError('IDEMPOTENCY_KEY_REQUIRED');
  return key;
}

export interface PaymentRequest {
  orderId: string;
  method: PaymentMethod;
  cardToken?: string | undefined;
}

/**
 * Asks the order to be paid. The order's machine decides (one payment in flight per order, only a
 * PENDING order within its window); the payment actor then captures asynchronously. The same key
 * replays the first answer (the payment as it is now), a different body with it 422.
 */
export function requestPayment(
  ctx: AppContext,
  user: AuthUser,
  request: PaymentRequest,
  idempotencyKey: string | undefined,
): Promise<CommandResult> {
  return dispatchOrderCommand(
    ctx,
    'PAY',
    { userId: user.id, role: user.role, ...request },
    { idempotencyKey: requireIdempotencyKey(idempotencyKey) },
  );
}

/** The owner and admins see a payment; anyone else is told it does not exist. */
export async function getPayment(ctx: AppContext, user: AuthUser, paymentId: string): Promise<PaymentView> {
  const view = await loadPaymentView(ctx.orm.em.fork(), paymentId);
  if (!view || (view.userId !== user.id && user.role !== 'ADMIN')) throw new DomainError('PAYMENT_NOT_FOUND');
  return view;
}

/** What `GET /payments?sort=` may order by (the API's names), and their columns. */
export const PAYMENT_SORT_FIELDS = ['createdAt', 'amount'] as const;
export type PaymentSortField = (typeof PAYMENT_SORT_FIELDS)[number];
const PAYMENT_SORT_COLUMNS: Record<PaymentSortField, string> = { createdAt: 'created_at', amount: 'amount' };

/** The caller's payments, newest first unless `sort` says otherwise (id breaks ties the same way). */
export async function listPayments(
  ctx: AppContext,
  user: AuthUser,
  filter: {
    orderId?: string | undefined;
    status?: PaymentStatus | undefined;
    sort?: SortRequest<PaymentSortField> | undefined;
  } & PageRequest,
) {
  const em = ctx.orm.em.fork();
  const orderId = filter.orderId ?? null;
  const status = filter.status ?? null;
  const where = sql`user_id = ${user.id} and (${orderId}::uuid is null or order_id = ${orderId}::uuid)
                    and (${status}::text is null or status = ${status})`;
  const [views, [count]] = await Promise.all([
    loadPaymentViews(em, where, filter, orderBySql(filter.sort ?? NEWEST_FIRST, PAYMENT_SORT_COLUMNS)),
    query<{ n: number }>(em, sql`select count(*)::int as n from payments where ${where}`),
  ]);
  return { data: views, meta: pageMeta(filter, count!.n) };
}
