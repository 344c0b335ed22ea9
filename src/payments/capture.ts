import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { applyBalanceChange } from '../balance/balance-ledger';
import type { AppContext } from '../context';
import { query, sql } from '../db/sql';
import { isGatewayDeclined } from '../errors/gateway-declined.error';
import { isInsufficientBalanceError } from '../errors/insufficient-balance.error';
import type { Logger } from '../logger';
import type { CapturePaymentMessage } from '../messaging/messages';
import { annotateActiveSpan } from '../observability/tracing';
import {
  attemptBudget,
  gatewayFailureReason,
  isRetryableGatewayError,
  lookUpOrAssumeNothing,
} from './attempts';
import { paymentGateway } from './gateway';
import { tellOrder } from './tell-order';

interface PaymentAttempt {
  id: string;
  order_id: string;
  user_id: string;
  method: 'CARD' | 'BALANCE';
  amount: number;
  card_token: string | null;
  /** Including the attempt being started. */
  attempts: number;
}

/**
 * Starts one attempt: PROCESSING and attempts + 1, committed before the gateway is called so the
 * retry bound holds across crashes. Nothing when the payment is settled already (the order has
 * marked it COMPLETED or FAILED): a redelivered CAPTURE is then done.
 */
async function beginAttempt(em: EntityManager, paymentId: string): Promise<PaymentAttempt | undefined> {
  const [row] = await query<PaymentAttempt>(
    em,
    sql`update payments set status = 'PROCESSING', attempts = attempts + 1, updated_at = now()
        where id = ${paymentId} and status in ('REQUESTED', 'PROCESSING')
        returning id, order_id, user_id, method, amount, card_token, attempts`,
  );
  return row;
}

/**
 * `CAPTURE {paymentId}`: takes the money (card at the gateway, or the prepaid balance) and tells the
 * order the outcome. The order, not this actor, marks the payment COMPLETED or FAILED when it applies
 * the fact — in the same transaction that moves the order and its stock.
 */
export async function capturePayment(
  ctx: AppContext,
  job: Job,
  { paymentId }: CapturePaymentMessage,
  log: Logger,
): Promise<string> {
  const payment = await beginAttempt(ctx.orm.em.fork(), paymentId);
  if (!payment) {
    log.debug({ paymentId }, 'payment already settled; nothing to do');
    return 'settled';
  }
  const plog = log.child({ paymentId, orderId: payment.order_id, attempt: payment.attempts });
  annotateActiveSpan({ 'shop.order.id': payment.order_id, 'shop.payment.attempt': payment.attempts });
  // A fully discounted order owes nothing: there is nothing to take.
  if (payment.amount === 0) return succeed(ctx, plog, payment, 0);
  if (payment.method === 'BALANCE') return debitBalance(ctx, plog, payment);
  return captureCard(ctx, job, plog, payment);
}

async function succeed(ctx: AppContext, log: Logger, p: PaymentAttempt, amount: number, debit = false) {
  await tellOrder(
    ctx,
    log,
    p.order_id,
    { type: 'PAYMENT_SUCCEEDED', paymentId: p.id, amount },
    // The debit and the news of it commit together; the ledger's (PAYMENT, paymentId) key makes a
    // second run find the debit done and only repeat the (deduplicated) news.
    debit
      ? (tx) =>
          applyBalanceChange(tx, { userId: p.user_id, kind: 'PAYMENT', amount: -amount, referenceId: p.id })
      : undefined,
  );
  return 'succeeded';
}

async function fail(ctx: AppContext, log: Logger, p: PaymentAttempt, reason: string) {
  await tellOrder(ctx, log, p.order_id, { type: 'PAYMENT_FAILED', paymentId: p.id, reason });
  log.info({ reason }, 'payment failed');
  return 'failed';
}

async function debitBalance(ctx: AppContext, log: Logger, p: PaymentAttempt): Promise<string> {
  try {
    return await succeed(ctx, log, p, p.amount, true);
  } catch (error) {
    if (!isInsufficientBalanceError(error)) throw error;
    return fail(ctx, log, p, 'INSUFFICIENT_BALANCE');
  }
}

async function captureCard(ctx: AppContext, job: Job, log: Logger, p: PaymentAttempt): Promise<string> {
  const gateway = paymentGateway(ctx);
  const budget = attemptBudget(p.attempts, ctx.config.paymentMaxAttempts, job);
  let lastFailure: unknown;
  // An earlier attempt may have reached the gateway (it timed out, or its worker died before the
  // commit): ask before charging again, so a retry never counts on the gateway deduplicating it.
  if (p.attempts > 1 && budget !== 'spent') {
    const earlier = await lookUpOrAssumeNothing(() => gateway.findCapture(p.id));
    if (earlier) return succeed(ctx, log, p, earlier.amount);
  }
  if (budget !== 'spent') {
    try {
      const charge = await gateway.capture({
        paymentId: p.id,
        orderId: p.order_id,
        amount: p.amount,
        cardToken: p.card_token,
      });
      return await succeed(ctx, log, p, charge.amount);
    } catch (error) {
      if (isGatewayDeclined(error)) return fail(ctx, log, p, error.reason);
      if (!isRetryableGatewayError(error) || budget === 'more') throw error;
      lastFailure = error;
    }
  }
  // Out of attempts with the outcome unknown: the gateway may have captured after all.
  const captured = await lookUpOrAssumeNothing(() => gateway.findCapture(p.id));
  if (captured) return succeed(ctx, log, p, captured.amount);
  return fail(ctx, log, p, gatewayFailureReason(lastFailure));
}
