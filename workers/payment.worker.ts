import {
  PAYMENT_CAPTURE,
  PAYMENT_CAPTURE_BATCH,
  PAYMENT_REFUND,
  PAYMENT_REFUND_BATCH,
  PAYMENT_SWEEP,
} from '../src/messaging/messages';
import { parseMailboxJob } from '../src/messaging/parse-job';
import { capturePayment } from '../src/payments/capture';
import { carryOutPaymentBatch } from '../src/payments/payment-batch';
import { schedulePaymentSweep, sweepPayments } from '../src/payments/payment-sweep';
import { carryOutRefund } from '../src/payments/refund';
import type { QueueWorkerDefinition } from './runtime';

/**
 * The payment actor's mailbox: captures and refunds at the gateway or on the prepaid balance, and the
 * sweep that re-offers what Redis lost. Its outcomes reach the order only through the outbox.
 */
export const paymentWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'payment',
  concurrency: (ctx) => ctx.config.workerConcurrency,
  onStart: schedulePaymentSweep,
  refreshEveryMs: (ctx) => Math.max(1000, ctx.config.paymentSweepIntervalMs * 2),
  process: async (ctx, job, log) => {
    const message = parseMailboxJob('payment', job);
    switch (message?.name) {
      case PAYMENT_CAPTURE:
        return capturePayment(ctx, job, message.data, log);
      case PAYMENT_REFUND:
        return carryOutRefund(ctx, job, message.data, log);
      case PAYMENT_CAPTURE_BATCH:
        return carryOutPaymentBatch(ctx, job, PAYMENT_CAPTURE, message.data.members, log);
      case PAYMENT_REFUND_BATCH:
        return carryOutPaymentBatch(ctx, job, PAYMENT_REFUND, message.data.members, log);
      case PAYMENT_SWEEP:
        return sweepPayments(ctx, log);
      default:
        log.error({ name: job.name }, 'unknown payment message; dropped');
        return 'unknown';
    }
  },
};
