import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { EventObject } from 'xstate';
import type { AppContext } from '../src/context';
import type { Logger } from '../src/logger';
import {
  type AnyOrderCommand,
  ORDER_NOTICE,
  ORDER_SWEEP,
  type OrderCommandName,
  type PlaceOrderCommand,
} from '../src/messaging/messages';
import { businessDay, ensureOrderSequence } from './order/order-number';
import { commandOrder, notifyOrder } from './order/order-step';
import { placeOrder } from './order/place-order';
import { scheduleOrderSweep, sweepOrders } from './order/sweep';
import { afterCommit, runCommandJob, withConflictRetries } from './run-actor';
import type { QueueWorkerDefinition } from './runtime';

const COMMANDS = new Set<OrderCommandName>(['PLACE', 'CANCEL', 'CONFIRM', 'PAY', 'REFUND']);

/** The order actor's mailbox: client commands, facts from other actors, timeouts, and the sweep. */
export const orderWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'order',
  concurrency: (ctx) => ctx.config.workerConcurrency,
  onStart: scheduleOrderSweep,
  refreshEveryMs: (ctx) => Math.max(1000, ctx.config.orderSweepIntervalMs * 2),
  process: async (ctx, job, log) => {
    if (COMMANDS.has(job.name as OrderCommandName)) return runOrderCommand(ctx, job, log);
    if (job.name === ORDER_NOTICE) return runNotice(ctx, job, log);
    if (job.name === ORDER_SWEEP) return sweepOrders(ctx, log);
    log.error({ name: job.name }, 'unknown order message; dropped');
    return 'unknown';
  },
};

async function runOrderCommand(ctx: AppContext, job: Job, log: Logger) {
  const name = job.name as OrderCommandName;
  if (name === 'PLACE') {
    const day = businessDay(new Date(), ctx.config.timezone);
    await ensureOrderSequence(ctx.orm.em.fork(), day);
    return runCommandJob(ctx, job, log, (tx, now) =>
      placeOrder(tx, ctx.config, job.data as PlaceOrderCommand, now, day),
    );
  }
  return runCommandJob(ctx, job, log, (tx, now) => commandOrder(tx, name, job.data as AnyOrderCommand, now));
}

async function runNotice(ctx: AppContext, job: Job, log: Logger) {
  const { orderId, event } = job.data as { orderId: string; event: EventObject };
  const outcome = await withConflictRetries(() =>
    ctx.orm.em
      .fork()
      .transactional((tx: EntityManager) => notifyOrder(tx, orderId, event, job.id!, new Date())),
  );
  if (typeof outcome === 'string') {
    log.debug({ orderId, event: event.type, outcome }, 'notice not applied');
    return outcome;
  }
  await afterCommit(ctx, outcome, log);
  return 'applied';
}
