import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { applyBalanceChange } from '../balance/balance-ledger';
import type { AppContext } from '../context';
import { query, sql } from '../db/sql';
import { isGatewayDeclined } from '../errors/gateway-declined.error';
import { isRefundExceedsDebit, RefundExceedsDebitError } from '../errors/refund-exceeds-debit.error';
import type { Logger } from '../logger';
import type { RefundPaymentMessage } from '../messaging/messages';
import { annotateActiveSpan } from '../observability/tracing';
import { attemptBudget, isRetryableGatewayError, lookUpOrAssumeNothing } from './attempts';
import { paymentGateway } from './gateway';
import { tellOrder } from './tell-order';

interface RefundAttempt {
  id: string;
  payment_id: string;
  order_id: string;
  user_id: string;
  amount: number;
  restock: boolean;
  attempts: number;
  method: 'CARD' | 'BALANCE';
}

/** Starts one attempt (PROCESSING, attempts + 1, committed); nothing when the refund is settled. */
async function beginAttempt(em: EntityManager, refundId: string): Promise<RefundAttempt | undefined> {
  const [row] = await query<RefundAttempt>(
    em,
    sql`update refunds r set status = 'PROCESSING', attempts = r.attempts + 1, updated_at = now()
        from payments p
        where r.id = ${refundId} and p.id = r.payment_id and r.status in ('REQUESTED', 'PROCESSING')
        returning r.id, r.payment_id, r.order_id, r.user_id, r.amount, r.restock, r.attempts, p.method`,
  );
  return row;
}

/**
 * `REFUND {refundId}`: gives the money back (through the gateway, or onto the prepaid balance) and
 * tells the order, which records the refund and, for a full one, restocks and cancels as its machine says.
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
  if (refund.method === 'BALANCE') return completed(ctx, rlog, refund, true);
  return refundCard(ctx, job, rlog, refund);
}

async function completed(ctx: AppContext, log: Logger, r: RefundAttempt, credit = false) {
  const fact = {
    type: 'REFUND_COMPLETED' as const,
    refundId: r.id,
    paymentId: r.payment_id,
    amount: r.amount,
    restock: r.restock,
  };
  try {
    await tellOrder(ctx, log, r.order_id, fact, credit ? (tx) => creditBalance(tx, r) : undefined);
  } catch (error) {
    if (!isRefundExceedsDebit(error)) throw error;
    return failed(ctx, log, r, error.message);
  }
  return 'refunded';
}

/**
 * Credits a BALANCE refund, never beyond what its payment debited (as the gateway never refunds
 * beyond a capture). Concurrent credits of one user serialise on the balance's compare-and-set, and
 * a conflict re-runs this check with the rest of the transaction.
 */
async function creditBalance(tx: EntityManager, r: RefundAttempt): Promise<void> {
  const [row] = await query<{ debited: string; credited: string }>(
    tx,
    sql`select (select coalesce(-sum(amount), 0) from balance_transactions
                where kind = 'PAYMENT' and reference_id = ${r.payment_id}) as debited,
               (select coalesce(sum(b.amount), 0) from balance_transactions b
                join refunds f on f.id = b.reference_id
                where b.kind = 'REFUND' and f.payment_id = ${r.payment_id} and f.id <> ${r.id}) as credited`,
  );
  const debited = Number(row!.debited);
  const credited = Number(row!.credited);
  if (credited + r.amount > debited) throw new RefundExceedsDebitError(r.id, debited, credited);
  await applyBalanceChange(tx, { userId: r.user_id, kind: 'REFUND', amount: r.amount, referenceId: r.id });
}

/** Given up: the order marks the refund MANUAL for staff, and a cancellation waiting on it resumes. */
async function failed(ctx: AppContext, log: Logger, r: RefundAttempt, reason: string) {
  await tellOrder(ctx, log, r.order_id, {
    type: 'REFUND_FAILED',
    refundId: r.id,
    paymentId: r.payment_id,
    amount: r.amount,
  });
  log.error({ reason }, 'refund failed: staff must settle it');
  return 'failed';
}

async function refundCard(ctx: AppContext, job: Job, log: Logger, r: RefundAttempt): Promise<string> {
  const gateway = paymentGateway(ctx);
  const budget = attemptBudget(r.attempts, ctx.config.paymentMaxAttempts, job);
  let lastFailure: unknown;
  // As for captures: an earlier attempt may have refunded already; never count on the gateway's dedupe.
  if (r.attempts > 1 && budget !== 'spent' && (await lookUpOrAssumeNothing(() => gateway.findRefund(r.id))))
    return completed(ctx, log, r);
  if (budget !== 'spent') {
    try {
      await gateway.refund({
        refundId: r.id,
        paymentId: r.payment_id,
        orderId: r.order_id,
        amount: r.amount,
      });
      return await completed(ctx, log, r);
    } catch (error) {
      if (isGatewayDeclined(error)) return failed(ctx, log, r, error.reason);
      if (!isRetryableGatewayError(error) || budget === 'more') throw error;
      lastFailure = error;
    }
  }
  if (await lookUpOrAssumeNothing(() => gateway.findRefund(r.id))) return completed(ctx, log, r);
  return failed(ctx, log, r, String(lastFailure ?? 'attempts spent'));
}
