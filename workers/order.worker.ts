import {
  ORDER_COMMAND_BATCH,
  ORDER_NOTICE,
  ORDER_NOTICE_BATCH,
  ORDER_PLACE_BATCH,
  ORDER_SWEEP,
  ORDER_TIMERS_DUE,
} from '../src/messaging/messages';
import { parseMailboxJob } from '../src/messaging/parse-job';
import {
  applyOrderNotice,
  applyOrderNoticeBatch,
  receivePlacements,
  runOrderCommand,
} from '../src/orders/order-actor';
import { runOrderCommandBatch } from '../src/orders/order-command-batch';
import { scheduleOrderSweep, sweepOrders } from '../src/orders/order-sweep';
import { fireDueTimers } from '../src/orders/order-timers';
import type { QueueWorkerDefinition } from './runtime';

/** The order actor's mailbox: client commands, facts from other actors, timeouts, and the sweep. */
export const orderWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'order',
  concurrency: (ctx) => ctx.config.orderWorkerConcurrency,
  onStart: scheduleOrderSweep,
  refreshEveryMs: (ctx) => Math.max(1000, ctx.config.orderSweepIntervalMs * 2),
  process: async (ctx, job, log) => {
    const message = parseMailboxJob('order', job);
    switch (message?.name) {
      case 'PLACE':
        return receivePlacements(ctx, job, [message.data], log);
      case ORDER_PLACE_BATCH:
        return receivePlacements(ctx, job, message.data.commands, log);
      case 'CANCEL':
      case 'CONFIRM':
      case 'PAY':
      case 'REFUND':
        // No return value: the receipt (or processed_messages) is the record; Redis need not keep one.
        await runOrderCommand(ctx, job, message, log);
        return;
      case ORDER_COMMAND_BATCH:
        return runOrderCommandBatch(ctx, job, message.data.commands, log);
      case ORDER_NOTICE:
        await applyOrderNotice(ctx, message.data, job.id!, log);
        return;
      case ORDER_NOTICE_BATCH:
        return applyOrderNoticeBatch(ctx, job, message.data.members, log);
      case ORDER_TIMERS_DUE:
        return fireDueTimers(ctx, job, message.data.delay, log);
      case ORDER_SWEEP:
        return sweepOrders(ctx, log);
      default:
        log.error({ name: job.name }, 'unknown order message; dropped');
        return 'unknown';
    }
  },
};
