import { ORDER_NOTICE, ORDER_SWEEP } from '../src/messaging/messages';
import { parseMailboxJob } from '../src/messaging/parse-job';
import { applyOrderNotice, runOrderCommand, runPlaceOrder } from '../src/orders/order-actor';
import { scheduleOrderSweep, sweepOrders } from '../src/orders/order-sweep';
import type { QueueWorkerDefinition } from './runtime';

/** The order actor's mailbox: client commands, facts from other actors, timeouts, and the sweep. */
export const orderWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'order',
  concurrency: (ctx) => ctx.config.workerConcurrency,
  onStart: scheduleOrderSweep,
  refreshEveryMs: (ctx) => Math.max(1000, ctx.config.orderSweepIntervalMs * 2),
  process: async (ctx, job, log) => {
    const message = parseMailboxJob('order', job);
    switch (message?.name) {
      case 'PLACE':
        return runPlaceOrder(ctx, job, message.data, log);
      case 'CANCEL':
      case 'CONFIRM':
      case 'PAY':
      case 'REFUND':
        return runOrderCommand(ctx, job, message, log);
      case ORDER_NOTICE:
        return applyOrderNotice(ctx, message.data, job.id!, log);
      case ORDER_SWEEP:
        return sweepOrders(ctx, log);
      default:
        log.error({ name: job.name }, 'unknown order message; dropped');
        return 'unknown';
    }
  },
};
