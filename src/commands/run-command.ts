import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { invalidateProducts } from '../catalog/product-cache';
import { giveBackTake, type GateLine as StockChange, settleStock } from '../catalog/stock-gate';
import type { AppContext } from '../context';
import { isTransientConflict, isUniqueViolation } from '../db/errors';
import { type DomainError, isDomainError } from '../errors/domain-error';
import { isVersionConflict } from '../errors/version-conflict.error';
import type { Logger } from '../logger';
import type { CommandEnvelope } from '../messaging/messages';
import { wakeOutboxRelay } from '../messaging/outbox-signal';
import { type CommandAnswer, publishReply } from '../messaging/replies';
import type { DomainOutcome } from './outcome';
import { loadOutcomeView, type OutcomeView } from './outcome-view';
import { findReceipt, insertFailedReceipt, type Receipt } from './receipts';

/** The outcome of one committed actor step. */
export interface StepResult {
  /** What the command did, in the domain's words (the HTTP layer derives status and view from it). */
  answer: DomainOutcome;
  /** Products whose stock changed: their cached views are invalidated after commit. */
  touchedProducts: string[];
  /** Committed changes of available units (reservations negative): the stock gate follows them. */
  stockChanges?: readonly StockChange[];
  outboxRows: number;
  /** The outcome's view when the step could render it from memory (else it is read after commit). */
  view?: OutcomeView;
}

const CONFLICT_RETRIES = 12;

/**
 * Carries out one client command from a mailbox, exactly once: a command with a receipt is only
 * answered again; otherwise `execute` runs in one transaction (retried on version conflicts) that
 * must also write the DONE receipt. A DomainError is the answer, not a failure: it is stored as a
 * FAILED receipt and never retried. Anything else is thrown for BullMQ's backoff.
 */
export async function runCommandJob(
  ctx: AppContext,
  job: Job,
  command: CommandEnvelope,
  log: Logger,
  execute: (tx: EntityManager, now: Date) => Promise<StepResult>,
) {
  // A first delivery of a command without an Idempotency-Key cannot have a receipt yet; a redelivery
  // (or a keyed retry) looks first. Either way the receipt's primary key stops a second commit.
  if (job.attemptsMade > 0 || command.idempotencyKey || job.stalledCounter > 0) {
    const done = await findReceipt(ctx.orm.em.fork(), command.commandId);
    if (done) return replyFromReceipt(ctx, command, done);
  }
  try {
    const now = new Date();
    const result = await withConflictRetries(() =>
      ctx.orm.em.fork().transactional((tx: EntityManager) => execute(tx, now)),
    );
    await afterCommit(ctx, result, log, command.commandId);
    const view = result.view ?? (await loadOutcomeView(ctx, result.answer));
    await reply(ctx, command, { status: 'DONE', outcome: result.answer, view });
    return result.answer;
  } catch (error) {
    if (isUniqueViolation(error, 'commands_pkey')) {
      // The same command committed by a concurrent delivery: answer with what it stored.
      const stored = await findReceipt(ctx.orm.em.fork(), command.commandId);
      if (stored) return replyFromReceipt(ctx, command, stored);
    }
    if (isDomainError(error)) return refuse(ctx, job.name, command, error, log);
    throw error;
  }
}

async function refuse(
  ctx: AppContext,
  type: string,
  command: CommandEnvelope,
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
  // PostgreSQL refused a placement: units the stock gate handed this command go back (a no-op
  // without a take), before the answer, so whoever hears the 409 sees the gate as it now is.
  if (type === 'PLACE')
    await giveBackTake(ctx, command.commandId).catch((err) =>
      log.warn({ err: String(err) }, 'stock gate take not given back; the reconciliation repairs it'),
    );
  log.debug({ code: error.code }, 'command refused');
  await reply(ctx, command, { status: 'FAILED', error: body });
  return { refused: error.code };
}

async function replyFromReceipt(ctx: AppContext, command: CommandEnvelope, receipt: Receipt) {
  if (receipt.status === 'DONE' && receipt.outcome) {
    const view = await loadOutcomeView(ctx, receipt.outcome);
    await reply(ctx, command, { status: 'DONE', outcome: receipt.outcome, view });
  } else {
    await reply(ctx, command, { status: 'FAILED', error: receipt.error });
  }
  return 'duplicate';
}

async function reply(ctx: AppContext, command: CommandEnvelope, answer: CommandAnswer) {
  await publishReply(ctx.redis, ctx.config.redisPrefix, {
    commandId: command.commandId,
    requestHash: command.requestHash,
    ...answer,
  }).catch((err) => ctx.log.warn({ err: String(err) }, 'reply not published; the receipt still answers'));
}

/**
 * After commit: the stock gate follows the committed stock changes (and settles the command's take),
 * fresh product views, and the relay told there are rows to deliver.
 */
export async function afterCommit(
  ctx: AppContext,
  result: StepResult,
  log: Logger,
  commandId?: string,
): Promise<void> {
  if (result.stockChanges?.length)
    await settleStock(ctx, [{ commandId, changes: result.stockChanges }]).catch((err) =>
      log.warn({ err: String(err) }, 'stock gate not settled; the reconciliation repairs it'),
    );
  if (result.touchedProducts.length > 0) await invalidateProducts(ctx, result.touchedProducts);
  if (result.outboxRows > 0)
    await wakeOutboxRelay(ctx).catch((err) => log.debug({ err: String(err) }, 'wake'));
}

/** Version conflicts and deadlocks mean another message won: run the step again on the new state. */
export async function withConflictRetries<T>(step: () => Promise<T>): Promise<T> {
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
