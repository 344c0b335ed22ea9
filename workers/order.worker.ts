import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { EventObject } from 'xstate';
import type { AppContext } from '../src/context';
import { isTransientConflict, isUniqueViolation } from '../src/db/errors';
import { type DomainError, isDomainError } from '../src/errors/domain-error';
import { isVersionConflict } from '../src/errors/version-conflict.error';
import type { Logger } from '../src/logger';
import {
  type AnyOrderCommand,
  ORDER_NOTICE,
  ORDER_SWEEP,
  type OrderCommandName,
} from '../src/messaging/messages';
import { wakeOutboxRelay } from '../src/messaging/outbox-signal';
import { publishReply } from '../src/messaging/replies';
import { invalidateProducts } from '../src/services/catalog/product-cache';
import { loadResource } from '../src/services/commands/dispatch';
import { findReceipt, insertFailedReceipt, resourcePath } from '../src/services/commands/receipts';
import type { StepResult } from './order/commit-step';
import { businessDay, ensureOrderSequence } from './order/order-number';
import { commandOrder, notifyOrder } from './order/order-step';
import { placeOrder } from './order/place-order';
import { scheduleOrderSweep, sweepOrders } from './order/sweep';
import type { QueueWorkerDefinition } from './runtime';

const COMMANDS = new Set<OrderCommandName>(['PLACE', 'CANCEL', 'CONFIRM', 'PAY', 'REFUND']);
const CONFLICT_RETRIES = 12;

/** The order actor's mailbox: client commands, facts from other actors, timeouts, and the sweep. */
export const orderWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'order',
  concurrency: (ctx) => ctx.config.workerConcurrency,
  onStart: scheduleOrderSweep,
  refreshEveryMs: (ctx) => Math.max(5000, ctx.config.orderSweepIntervalMs * 5),
  process: async (ctx, job, log) => {
    if (COMMANDS.has(job.name as OrderCommandName)) return runCommand(ctx, job, log);
    if (job.name === ORDER_NOTICE) return runNotice(ctx, job, log);
    if (job.name === ORDER_SWEEP) return sweepOrders(ctx, log);
    log.error({ name: job.name }, 'unknown order message; dropped');
    return 'unknown';
  },
};

async function runCommand(ctx: AppContext, job: Job, log: Logger) {
  const name = job.name as OrderCommandName;
  const command = job.data as AnyOrderCommand;
  const em = ctx.orm.em.fork();
  const done = await findReceipt(em, command.commandId);
  if (done) return replyFromReceipt(ctx, command, done);
  const now = new Date();
  const day = businessDay(now, ctx.config.timezone);
  if (name === 'PLACE') await ensureOrderSequence(em, day);
  try {
    const result = await withConflictRetries(() =>
      ctx.orm.em
        .fork()
        .transactional((tx: EntityManager) =>
          name === 'PLACE'
            ? placeOrder(tx, ctx.config, command, now, day)
            : commandOrder(tx, name, command, now),
        ),
    );
    await afterCommit(ctx, result, log);
    const body = await loadResource(ctx, resourcePath(result.answer.resource, result.answer.id));
    await reply(ctx, { command, status: 'DONE', httpStatus: result.answer.httpStatus, body });
    return result.answer;
  } catch (error) {
    if (isUniqueViolation(error, 'commands_pkey')) {
      // The same command committed by a concurrent delivery: answer with what it stored.
      const stored = await findReceipt(ctx.orm.em.fork(), command.commandId);
      if (stored) return replyFromReceipt(ctx, command, stored);
    }
    if (isDomainError(error)) return refuse(ctx, name, command, error, log);
    throw error;
  }
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

/** A refusal is an answer, not a failure: it is stored (so a replay gets it again) and never retried. */
async function refuse(
  ctx: AppContext,
  type: string,
  command: AnyOrderCommand,
  error: DomainError,
  log: Logger,
) {
  const body = error.toJSON();
  await insertFailedReceipt(
    ctx.orm.em.fork(),
    {
      commandId: command.commandId,
      userId: command.userId,
      type,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      httpStatus: error.status,
      error: body,
    },
    new Date(),
  );
  log.debug({ code: error.code }, 'command refused');
  await reply(ctx, { command, status: 'FAILED', httpStatus: error.status, body });
  return { refused: error.code };
}

async function replyFromReceipt(
  ctx: AppContext,
  command: AnyOrderCommand,
  receipt: NonNullable<Awaited<ReturnType<typeof findReceipt>>>,
) {
  const body = receipt.status === 'DONE' ? await loadResource(ctx, receipt.resource) : receipt.error;
  await reply(ctx, {
    command,
    status: receipt.status === 'DONE' ? 'DONE' : 'FAILED',
    httpStatus: receipt.httpStatus,
    body,
  });
  return 'duplicate';
}

async function reply(
  ctx: AppContext,
  r: { command: AnyOrderCommand; status: 'DONE' | 'FAILED'; httpStatus: number; body: unknown },
) {
  await publishReply(ctx.redis, ctx.config.redisPrefix, {
    commandId: r.command.commandId,
    status: r.status,
    httpStatus: r.httpStatus,
    body: r.body,
    requestHash: r.command.requestHash,
  }).catch((err) => ctx.log.warn({ err: String(err) }, 'reply not published; the receipt still answers'));
}

async function afterCommit(ctx: AppContext, result: StepResult, log: Logger) {
  if (result.touchedProducts.length > 0) await invalidateProducts(ctx, result.touchedProducts);
  if (result.outboxRows > 0)
    await wakeOutboxRelay(ctx).catch((err) => log.debug({ err: String(err) }, 'wake'));
}

/** Version conflicts and deadlocks mean another message won: run the step again on the new state. */
async function withConflictRetries<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const retryable = isVersionConflict(error) || isTransientConflict(error);
      if (!retryable || attempt >= CONFLICT_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
    }
  }
}
