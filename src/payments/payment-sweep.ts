import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import type { Logger } from '../logger';
import {
  type CapturePaymentMessage,
  PAYMENT_CAPTURE,
  PAYMENT_REFUND,
  PAYMENT_SWEEP,
  type RefundPaymentMessage,
} from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { wakeOutboxRelay } from '../messaging/outbox-signal';
import { retryWindowMs } from './attempts';
import { handlerFor, METHODS_WITH_LATE_ANSWERS } from './methods';
import { addNotice, type PaymentFact } from './tell-order';

const BATCH = 200;
/** How long a payment or refund given up on for want of an answer is still compared with the gateway. */
export const LATE_ANSWER_WATCH_MS = 10 * 60_000;

/**
 * The sweep runs as a BullMQ job scheduler: one job per interval, whichever process takes it. Checked
 * every two intervals (a restarted Redis has lost it); registered only when missing or changed.
 */
export async function schedulePaymentSweep(ctx: AppContext): Promise<void> {
  const current = await ctx.queues.payment.getJobScheduler('payment-sweep');
  if (current?.every === ctx.config.paymentSweepIntervalMs) return;
  await ctx.queues.payment.upsertJobScheduler(
    'payment-sweep',
    { every: ctx.config.paymentSweepIntervalMs },
    { name: PAYMENT_SWEEP, data: {}, opts: { attempts: 1, removeOnComplete: true, removeOnFail: 100 } },
  );
}

/**
 * The safety net of the payment actor.
 * 1. Payments and refunds REQUESTED/PROCESSING for longer than their retries could take lost their
 *    message (Redis flushed, a job failed on an infrastructure error): they are offered again, under a
 *    job id that changes with time so an old failed job of the same id does not swallow the new one.
 *    Their attempt count lives in the row, so a re-offer never buys more gateway calls.
 * 2. Payments FAILED and refunds given up on for a gateway timeout are compared with their method's
 *    provider (PaymentMethodHandler.lateAnswers) for a while: a capture or refund that landed after all is reported to the order (whose
 *    machine refunds a late capture, so a cancelled order keeps no money).
 */
export async function sweepPayments(ctx: AppContext, log: Logger) {
  const em = ctx.orm.em.fork();
  const staleMs = retryWindowMs(ctx.config);
  const [payments, refunds] = await Promise.all([
    query(em, staleQuery('payments', staleMs)),
    query(em, staleQuery('refunds', staleMs)),
  ]);
  const bucket = Math.floor(Date.now() / staleMs);
  const jobs = [
    ...payments.map(({ id }) => ({
      name: PAYMENT_CAPTURE,
      data: { paymentId: id } satisfies CapturePaymentMessage,
      opts: { jobId: `capture-${id}-sweep-${bucket}` },
    })),
    ...refunds.map(({ id }) => ({
      name: PAYMENT_REFUND,
      data: { refundId: id } satisfies RefundPaymentMessage,
      opts: { jobId: `refund-${id}-sweep-${bucket}` },
    })),
  ];
  if (jobs.length > 0) {
    await ctx.queues.payment.addBulk(jobs);
    log.warn(
      { payments: payments.length, refunds: refunds.length },
      'offered stuck payments and refunds again',
    );
  }
  const late = await reconcileLateAnswers(ctx, log);
  log.debug({ reoffered: jobs.length, lateAnswers: late }, 'payment sweep done');
  return { reoffered: jobs.length, lateAnswers: late };
}

/*
 * The sweep's reads run every PAYMENT_SWEEP_INTERVAL_MS for the life of the shop: each goes through a
 * partial index over the rows it looks for (in flight, or failed or given up on recently), so it
 * reads those, not every payment and refund ever made (test/db/housekeeping-cost.test.ts).
 */

/**
 * Payments or refunds still REQUESTED or PROCESSING after the retry window (payments_unsettled_index,
 * refunds_unsettled_index).
 */
export const staleQuery = (table: 'payments' | 'refunds', staleMs: number) =>
  sql<Row<'payments', 'id'>>`select id from ${sql.table(table)}
      where status in ('REQUESTED', 'PROCESSING') and updated_at < now() - ${`${staleMs} milliseconds`}::interval
      order by updated_at limit ${BATCH}`;

const WATCH = `${LATE_ANSWER_WATCH_MS} milliseconds`;

/** Payments that failed on a gateway timeout or error within the watch (payments_gateway_failed_index). */
export const lateFailedPaymentsQuery = () =>
  sql<Row<'payments', 'id' | 'order_id' | 'method'>>`select id, order_id, method from payments
      where method = any(${METHODS_WITH_LATE_ANSWERS}::text[]) and status = 'FAILED'
        and failure_reason in ('GATEWAY_TIMEOUT', 'GATEWAY_ERROR') and updated_at > now() - ${WATCH}::interval
      order by updated_at limit ${BATCH}`;

/** Refunds given up on (MANUAL) within the watch (refunds_manual_index). */
export const lateManualRefundsQuery = () =>
  sql<
    Row<'refunds', 'id' | 'payment_id' | 'order_id' | 'amount' | 'restock'> & Row<'payments', 'method'>
  >`select r.id, r.payment_id, r.order_id, r.amount, r.restock, p.method from refunds r
      join payments p on p.id = r.payment_id
      where p.method = any(${METHODS_WITH_LATE_ANSWERS}::text[]) and r.status = 'MANUAL'
        and r.updated_at > now() - ${WATCH}::interval
      order by r.updated_at limit ${BATCH}`;

async function reconcileLateAnswers(ctx: AppContext, log: Logger): Promise<number> {
  const em = ctx.orm.em.fork();
  const [failedPayments, manualRefunds] = await Promise.all([
    query(em, lateFailedPaymentsQuery()),
    query(em, lateManualRefundsQuery()),
  ]);
  if (failedPayments.length === 0 && manualRefunds.length === 0) return 0;
  const facts: { orderId: string; fact: PaymentFact }[] = [];
  await Promise.all([
    ...failedPayments.map(async (p) => {
      const capture = await handlerFor(p.method).lateAnswers?.findCapture(ctx, p.id);
      if (capture) {
        facts.push({
          orderId: p.order_id,
          fact: { type: 'PAYMENT_SUCCEEDED', paymentId: p.id, amount: capture.amount },
        });
      }
    }),
    ...manualRefunds.map(async (r) => {
      if (await handlerFor(r.method).lateAnswers?.findRefund(ctx, r.id)) {
        facts.push({
          orderId: r.order_id,
          fact: {
            type: 'REFUND_COMPLETED',
            refundId: r.id,
            paymentId: r.payment_id,
            amount: r.amount,
            restock: r.restock,
          },
        });
      }
    }),
  ]);
  if (facts.length === 0) return 0;
  const outbox = new Outbox();
  for (const { orderId, fact } of facts) addNotice(outbox, orderId, fact);
  await em.transactional((tx) => outbox.flush(tx, new Date()));
  await wakeOutboxRelay(ctx).catch(() => undefined);
  log.error(
    { facts: facts.map((f) => ({ orderId: f.orderId, type: f.fact.type })) },
    'the gateway acted after its caller gave up; the orders are told now',
  );
  return facts.length;
}
