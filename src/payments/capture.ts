import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import { preparedStatement, query, sql } from '../db/sql';
import type { Logger } from '../logger';
import type { CapturePaymentMessage } from '../messaging/messages';
import { annotateActiveSpan } from '../tracing/tracing';
import { handlerFor } from './methods';
import type { Alongside, PaymentAttempt } from './methods/payment-method';
import { type PaymentFact, tellOrder } from './tell-order';

/**
 * Starts one attempt: PROCESSING and attempts + 1, committed before the method is called so the
 * retry bound holds across crashes. Nothing when the payment is settled already (the order has
 * marked it COMPLETED or FAILED): a redelivered CAPTURE is then done.
 */
async function beginAttempt(em: EntityManager, paymentId: string): Promise<PaymentAttempt | undefined> {
  const [attempt] = await query<PaymentAttempt>(
    em,
    preparedStatement(sql`update payments set status = 'PROCESSING', attempts = attempts + 1, updated_at = now()
        where id = ${paymentId} and status in ('REQUESTED', 'PROCESSING')
        returning id, order_id, user_id, method, amount, card_token, attempts`),
  );
  return attempt;
}

/**
 * `CAPTURE {paymentId}`: takes the money the payment's method's way and tells the order the outcome.
 * The order, not this actor, marks the payment COMPLETED or FAILED when it applies the fact — in the
 * same transaction that moves the order and its stock.
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
  const tell = (fact: PaymentFact, alongside?: Alongside) =>
    tellOrder(ctx, plog, payment.order_id, fact, alongside, payment.attempts);
  const settle = {
    // The money and the news of it commit together (alongside); a second run finds the money moved
    // and only repeats the (deduplicated) news.
    succeeded: async (amount: number, alongside?: Alongside) => {
      await tell({ type: 'PAYMENT_SUCCEEDED', paymentId: payment.id, amount }, alongside);
      return 'succeeded';
    },
    failed: async (reason: string) => {
      await tell({ type: 'PAYMENT_FAILED', paymentId: payment.id, reason });
      plog.info({ reason }, 'payment failed');
      return 'failed';
    },
  };
  // A fully discounted order owes nothing: there is nothing to take, whatever the method.
  if (payment.amount === 0) return settle.succeeded(0);
  return handlerFor(payment.method).capture(ctx, job, payment, plog, settle);
}
