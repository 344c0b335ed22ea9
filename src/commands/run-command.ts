import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { invalidateProducts } from '../catalog/product-cache';
import {
  type CommittedStock,
  giveBackTake,
  type GateLine as StockChange,
  settleStock,
} from '../catalog/stock-gate';
import type { AppContext } from '../context';
import { isTransientConflict, isUniqueViolation } from '../db/errors';
import { type DomainError, isDomainError } from '../errors/domain-error';
import { isVersionConflict } from '../errors/version-conflict.error';
import type { Logger } from '../logger';
import type { CommandEnvelope } from '../messaging/messages';
import { wakeOutboxRelay } from '../messaging/outbox-signal';
import { isCluster } from '../messaging/redis';
import { type CommandAnswer, type CommandReply, publishReplies, replyChannelFor } from '../messaging/replies';
import { addTimerBuckets, type TimerBucket } from '../messaging/timer-buckets';
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
  /** Of those, messages to an actor's mailbox (the relay sends them at once; events may be gathered). */
  outboxMessages: number;
  /** The outcome's view when the step could render it from memory (else it is read after commit). */
  view?: OutcomeView;
  /** Timeouts the step started, as time buckets to add after commit. */
  timers?: TimerBucket[];
}

const CONFLICT_RETRIES = 12;

/**
 * What running a command needs of the job that delivered it (a Job is one; a member of a
 * PLACE_BATCH job is described by its batch's job). `maybeDone`: look for a receipt even on a
 * first delivery (the command may have been sent twice).
 */
export type CommandDelivery = Pick<Job, 'name' | 'attemptsMade' | 'stalledCounter'> & { maybeDone?: boolean };

/**
 * Carries out one client command from a mailbox, exactly once: a command with a receipt is only
 * answered again; otherwise `execute` runs in one transaction (retried on version conflicts) that
 * must also write the DONE receipt. A DomainError is the answer, not a failure: it is stored as a
 * FAILED receipt and never retried. Anything else is thrown for BullMQ's backoff.
 */
export async function runCommandJob(
  ctx: AppContext,
  job: CommandDelivery,
  command: CommandEnvelope,
  log: Logger,
  execute: (tx: EntityManager, now: Date) => Promise<StepResult>,
) {
  // A first delivery rarely has a receipt: the dispatcher looked for one just before sending, so it
  // is not looked up again. A redelivery looks first. Either way the receipt's primary key stops a
  // second commit (a keyed retry sent in another job while the first ran), and its answer is replayed.
  if (job.maybeDone || job.attemptsMade > 0 || job.stalledCounter > 0) {
    const done = await findReceipt(ctx.orm.em.fork(), command.commandId);
    if (done) return replyFromReceipt(ctx, command, done);
  }
  try {
    const now = new Date();
    const result = await withConflictRetries(() =>
      ctx.orm.em.fork().transactional((tx: EntityManager) => execute(tx, now)),
    );
    await replyCommitted(ctx, [{ command, result }], log);
    return result.answer;
  } catch (error) {
    // The same command may have committed in another delivery: a concurrent one (the receipt's key
    // refused this one), or — a keyed command reaching the mailbox twice, a client's retry sent by
    // another API process in another batch job — an earlier one whose state refuses this run. Either
    // way the answer is what it stored.
    if (isUniqueViolation(error, 'commands_pkey') || (isDomainError(error) && command.idempotencyKey)) {
      const stored = await findReceipt(ctx.orm.em.fork(), command.commandId);
      if (stored) return replyFromReceipt(ctx, command, stored);
    }
    if (isDomainError(error)) return refuse(ctx, job.name, command, error, log);
    throw error;
  }
}

/**
 * After commit: the waiting requests are answered first, then the product caches and the relay are
 * told, all sent together (one wake-up and one invalidation for a whole placement batch).
 */
export async function replyCommitted(
  ctx: AppContext,
  committed: { command: CommandEnvelope; result: StepResult }[],
  log: Logger,
): Promise<void> {
  // The stock gate first (one call for the batch), so whoever hears the answer sees the gate in step:
  // the replies follow it on the same connection without waiting for its answer (Redis runs a
  // connection's commands in order; a cluster's nodes do not share one order, so there it is awaited).
  const settled = settleStockChanges(
    ctx,
    committed.map(({ command, result }) => ({
      commandId: command.commandId,
      changes: result.stockChanges ?? [],
    })),
    log,
  );
  if (isCluster(ctx.redis)) await settled;
  const answered = Promise.all(
    committed.map(async ({ command, result }) => ({
      command,
      answer: {
        status: 'DONE',
        outcome: result.answer,
        view: result.view ?? (await loadOutcomeView(ctx, result.answer)),
      } satisfies CommandAnswer,
    })),
  ).then((answers) => reply(ctx, answers));
  const touchedProducts = [...new Set(committed.flatMap(({ result }) => result.touchedProducts))];
  const outboxRows = committed.reduce((sum, { result }) => sum + result.outboxRows, 0);
  const outboxMessages = committed.reduce((sum, { result }) => sum + result.outboxMessages, 0);
  const timers = committed.flatMap(({ result }) => result.timers ?? []);
  await Promise.all([
    settled,
    answered,
    afterCommit(ctx, { touchedProducts, outboxRows, outboxMessages, timers, settlements: [] }, log),
  ]);
}

/** A refusal (a DomainError) is the command's answer: stored as a FAILED receipt and replied. */
export async function refuse(
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
  await reply(ctx, [{ command, answer: { status: 'FAILED', error: body } }]);
  return { refused: error.code };
}

async function replyFromReceipt(ctx: AppContext, command: CommandEnvelope, receipt: Receipt) {
  if (receipt.status === 'DONE' && receipt.outcome) {
    const view = await loadOutcomeView(ctx, receipt.outcome);
    await reply(ctx, [{ command, answer: { status: 'DONE', outcome: receipt.outcome, view } }]);
  } else {
    await reply(ctx, [{ command, answer: { status: 'FAILED', error: receipt.error } }]);
  }
  return 'duplicate';
}

/** Each answer to the channel of the process waiting for it: one message per channel. */
async function reply(ctx: AppContext, answers: { command: CommandEnvelope; answer: CommandAnswer }[]) {
  const byChannel = new Map<string, CommandReply[]>();
  for (const { command, answer } of answers) {
    const channel = replyChannelFor(ctx.config.redisPrefix, command);
    const replies = byChannel.get(channel) ?? [];
    replies.push({ commandId: command.commandId, requestHash: command.requestHash, ...answer });
    byChannel.set(channel, replies);
  }
  await Promise.all(
    [...byChannel].map(([channel, replies]) => publishReplies(ctx.redis, channel, replies)),
  ).catch((err) => ctx.log.warn({ err: String(err) }, 'reply not published; the receipt still answers'));
}

/**
 * After commit: the stock gate follows the committed stock changes (settling each command's take)
 * before anyone hears of them; then fresh product views, the relay told there are rows to deliver,
 * timer buckets added.
 */
export async function afterCommit(
  ctx: AppContext,
  result: Pick<
    StepResult,
    'touchedProducts' | 'outboxRows' | 'outboxMessages' | 'timers' | 'stockChanges'
  > & {
    /** The stock changes to settle per command (`[]`: the caller settled them); else the step's own. */
    settlements?: readonly CommittedStock[];
  },
  log: Logger,
): Promise<void> {
  await settleStockChanges(ctx, result.settlements ?? [{ changes: result.stockChanges ?? [] }], log);
  await Promise.all([
    result.touchedProducts.length > 0 ? invalidateProducts(ctx, result.touchedProducts) : undefined,
    result.outboxRows > 0
      ? wakeOutboxRelay(ctx, result.outboxMessages === 0).catch((err) =>
          log.debug({ err: String(err) }, 'wake'),
        )
      : undefined,
    result.timers?.length
      ? addTimerBuckets(ctx, result.timers).catch((err) =>
          log.warn({ err: String(err) }, 'timer bucket not added; the sweeper will find the due orders'),
        )
      : undefined,
  ]);
}

/** The stock gate follows committed steps; a failure leaves it to the reconciliation. */
function settleStockChanges(ctx: AppContext, settlements: readonly CommittedStock[], log: Logger) {
  return settleStock(ctx, settlements).catch((err) =>
    log.warn({ err: String(err) }, 'stock gate not settled; the reconciliation repairs it'),
  );
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
