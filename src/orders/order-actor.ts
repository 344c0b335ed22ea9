import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import {
  afterCommit,
  type CommandDelivery,
  runCommandJob,
  withConflictRetries,
} from '../commands/run-command';
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { type BatchMember, runBatchMembers } from '../messaging/batch-members';
import {
  MAILBOX_JOBS,
  type MailboxJob,
  ORDER_NOTICE,
  type OrderNotice,
  type PlaceOrderCommand,
} from '../messaging/messages';
import { announceOrderChanges } from '../messaging/order-status';
import { parseWith } from '../messaging/parse-job';
import { commandOrder, type ExistingOrderCommand, notifyOrder } from './order-commands';
import { businessDay, ensureOrderSequence } from './order-number';
import { placeOrder } from './place-order';
import { batchable, placementBatcher } from './placement-batch';

/** PLACE from the order mailbox: the day's order sequence exists, then the placement runs once. */
export async function runPlaceOrder(
  ctx: AppContext,
  delivery: CommandDelivery,
  command: PlaceOrderCommand,
  log: Logger,
) {
  const day = businessDay(new Date(), ctx.config.timezone);
  await ensureOrderSequence(ctx.orm.em.fork(), day);
  return runCommandJob(ctx, delivery, command, log, (tx, now) =>
    placeOrder(tx, ctx.config, command, now, day),
  );
}

/**
 * PLACE, or the members of a PLACE_BATCH job, as the order worker receives them: each plain
 * placement joins the process's placement batch (group commit, placement-batch.ts); one with a
 * coupon, from the cart or redelivered runs alone. The job ends when every member did; if one
 * failed, it fails and its retry runs each member alone, finding the receipts of those that
 * committed. No return value: the receipts are the record, BullMQ need not store one.
 */
export async function receivePlacements(
  ctx: AppContext,
  job: Job,
  commands: readonly PlaceOrderCommand[],
  log: Logger,
): Promise<void> {
  const delivery = { name: 'PLACE', attemptsMade: job.attemptsMade, stalledCounter: job.stalledCounter };
  const unique = [...new Map(commands.map((c) => [c.commandId, c])).values()];
  const settled = await Promise.allSettled(
    unique.map((command) => {
      const alone = (maybeDone = false) => runPlaceOrder(ctx, { ...delivery, maybeDone }, command, log);
      return batchable(delivery, command) ? placementBatcher(ctx).submit(command, log, alone) : alone();
    }),
  );
  const failed = settled.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}

/** CANCEL, CONFIRM, PAY or REFUND on an existing order, carried out once. */
export function runOrderCommand(
  ctx: AppContext,
  delivery: CommandDelivery,
  message: ExistingOrderCommand,
  log: Logger,
) {
  return runCommandJob(ctx, delivery, message.data, log, (tx, now) =>
    commandOrder(tx, message.name, message.data, now),
  );
}

/** A fact from another actor or a timeout coming due; `messageId` makes a redelivery a no-op. */
export async function applyOrderNotice(ctx: AppContext, notice: OrderNotice, messageId: string, log: Logger) {
  const { orderId, event } = notice;
  const outcome = await withConflictRetries(() =>
    ctx.orm.em
      .fork()
      .transactional((tx: EntityManager) => notifyOrder(tx, orderId, event, messageId, new Date())),
  );
  if (typeof outcome === 'string') {
    log.debug({ orderId, event: event.type, outcome }, 'notice not applied');
    return outcome;
  }
  // Watchers of the order's live status hear of a payment's outcome at commit, not one relay pass and
  // events job later (the ORDER_PAID/ORDER_CANCELLED consumer's ping follows and changes nothing).
  await Promise.all([
    afterCommit(ctx, outcome, log),
    announceOrderChanges(ctx, [orderId]).catch((err) =>
      log.debug({ err: String(err) }, 'order status not announced; the event consumer will'),
    ),
  ]);
  return 'applied';
}

/**
 * A NOTICE_BATCH job: each member applied as its lone NOTICE, recorded by its own id (the job id it
 * would have travelled under); one order's notices in the batch's order, different orders side by side.
 */
export function applyOrderNoticeBatch(
  ctx: AppContext,
  job: Job,
  members: readonly BatchMember[],
  log: Logger,
) {
  const orderIdOf = (member: BatchMember) => {
    const data = member.data as { orderId?: unknown } | null;
    return typeof data?.orderId === 'string' ? data.orderId : member.id;
  };
  return runBatchMembers(job, members, {
    idOf: (member) => member.id,
    run: (member) =>
      applyOrderNotice(
        ctx,
        parseWith(MAILBOX_JOBS.order[ORDER_NOTICE], 'order', ORDER_NOTICE, member.data),
        member.id,
        log,
      ),
    laneOf: orderIdOf,
    concurrency: ctx.config.orderWorkerConcurrency,
    log,
  });
}

export type OrderMailboxJob = MailboxJob<'order'>;
