import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import { db } from '../db/database';
import { sql } from '../db/sql';
import { isRefundExceedsDebit } from '../errors/refund-exceeds-debit.error';
import type { Logger } from '../logger';
import type { RefundPaymentMessage } from '../messaging/messages';
import { annotateActiveSpan } from '../tracing/tracing';
import { handlerFor } from './methods';
import type { Alongside, RefundAttempt } from './methods/payment-method';
import { tellOrder } from './tell-order';

/** Starts one attempt (PROCESSING, attempts + 1, committed); nothing when the refund is settled. */
async function beginAttempt(em: EntityManager, refundId: string): Promise<RefundAttempt | undefined> {
  return db(em)
    .updateTable('refunds as r')
    .from('payments as p')
    .set((eb) => ({
      status: 'PROCESSING',
      attempts: eb('r.attempts', '+', 1),
      updated_at: sql<string>`now()`,
    }))
    .where('r.id', '=', refundId)
    .whereRef('p.id', '=', 'r.payment_id')
    .where('r.status', 'in', ['REQUESTED', 'PROCESSING'])
    .returning([
      'r.id',
      'r.payment_id',
      'r.order_id',
      'r.user_id',
      'r.amount',
      'r.restock',
      'r.attempts',
      'p.method',
    ])
    .executeTakeFirst();
}

/**
 * `REFUND {refundId}`: gives the money back the payment's method's way and tells the order, which
 * records the refund and, for a full one, restocks and cancels as its machine says.
 */
export async function carryOutRefund(
  ctx: AppContext,
  job: Job,
  { refundId }: RefundPaymentMessage,
  log: Logger,
): Promise<string> {
  const refund = await beginAttempt(ctx.orm.em.fork(), refundId);
  if (!refund) {
    log.debug({ refundId }, 'refund already settled; nothing to do');
    return 'settled';
  }
  const rlog = log.child({ refundId, paymentId: refund.payment_id, orderId: refund.order_id });
  annotateActiveSpan({ 'shop.order.id': refund.order_id, 'shop.payment.id': refund.payment_id });
  const settle = {
    completed: (alongside?: Alongside) => completed(ctx, rlog, refund, alongside),
    failed: (reason: string) => failed(ctx, rlog, refund, reason),
  };
  return handlerFor(refund.method).refund(ctx, job, refund, rlog, settle);
}

async function completed(ctx: AppContext, log: Logger, r: RefundAttempt, alongside?: Alongside) {
  const fact = {
    type: 'REFUND_COMPLETED' as const,
    refundId: r.id,
    paymentId: r.payment_id,
    amount: r.amount,
    restock: r.restock,
  };
  try {
    await tellOrder(ctx, log, r.order_id, fact, alongside, r.attempts);
  } catch (error) {
    if (!isRefundExceedsDebit(error)) throw error;
    return failed(ctx, log, r, error.message);
  }
  return 'refunded';
}

/** Given up: the order marks the refund MANUAL for staff, and a cancellation waiting on it resumes. */
async function failed(ctx: AppContext, log: Logger, r: RefundAttempt, reason: string) {
  await tellOrder(
    ctx,
    log,
    r.order_id,
    { type: 'REFUND_FAILED', refundId: r.id, paymentId: r.payment_id, amount: r.amount },
    undefined,
    r.attempts,
  );
  log.error({ reason }, 'refund failed: staff must settle it');
  return 'failed';
}
