import type { AppContext } from '../context';
import type { LocalizedText } from '../errors/domain-error';
import { ERROR_CODES } from '../errors/error-codes';
import type { Logger } from '../logger';
import { findJob, isQueueName, mailboxFor } from '../messaging/queues';
import { endCommandFailed } from './command-failures';
import { commandJobOptions } from './command-jobs';
import {
  countRequeue,
  forgetFinishedCommands,
  forgetQueuedCommand,
  listUnfinishedCommands,
  MAILBOX_JOB_ID,
  type QueuedCommandRow,
} from './queued-commands';
import { findReceipt } from './receipts';

/** A lost job is put back this many times; lost again after that, the command ends FAILED. */
export const MAX_REQUEUES = 3;
const BATCH = 500;

export interface SweepOutcome {
  requeued: number;
  failed: number;
  forgotten: number;
}

/**
 * Ends every command answered 202 that can no longer end by itself: its job failed for good without
 * a receipt (the database was down when it failed, or it stalled too often), or Redis lost the job
 * (it is put back from what was stored at acceptance, at most MAX_REQUEUES times). A job still
 * waiting, delayed or running is left alone. Safe to run in any number of processes at once.
 */
export async function sweepQueuedCommands(ctx: AppContext, log: Logger): Promise<SweepOutcome> {
  const em = ctx.orm.em.fork();
  const outcome: SweepOutcome = { requeued: 0, failed: 0, forgotten: await forgetFinishedCommands(em) };
  for (const row of await listUnfinishedCommands(em, new Date(), BATCH)) {
    const result = await sweepOne(ctx, row, log);
    if (result) outcome[result] += 1;
  }
  if (outcome.requeued + outcome.failed > 0) log.warn(outcome, 'queued commands swept');
  return outcome;
}

async function sweepOne(
  ctx: AppContext,
  row: QueuedCommandRow,
  log: Logger,
): Promise<keyof SweepOutcome | undefined> {
  const em = ctx.orm.em.fork();
  const fail = async (message: LocalizedText) => {
    await endCommandFailed(
      ctx,
      em,
      {
        commandId: row.id,
        userId: row.userId,
        type: row.type,
        idempotencyKey: (row.data.idempotencyKey as string | null | undefined) ?? null,
        requestHash: (row.data.requestHash as string | null | undefined) ?? null,
      },
      {
        httpStatus: ERROR_CODES.INTERNAL.status,
        error: { error: 'INTERNAL', message: message.en, messageKo: message.ko },
      },
      log,
    );
    return 'failed' as const;
  };
  if (!isQueueName(row.queue))
    return fail({
      en: 'The command was sent to an unknown mailbox',
      ko: '명령이 알 수 없는 메일박스로 보내졌습니다',
    });
  const { [MAILBOX_JOB_ID]: batchJobId, ...data } = row.data;
  const queue = mailboxFor(ctx.queues, row.queue, data, row.id);
  // A member of a batch job is looked for in every shard (a PLACE_BATCH job's shard follows from its
  // id, a COMMAND_BATCH job's from its members'); it is put back as a job of its own.
  const job =
    typeof batchJobId === 'string'
      ? await findJob(ctx.queues, row.queue, batchJobId)
      : await queue.getJob(row.id);
  if (job) {
    const state = await job.getState();
    if (state === 'failed')
      return fail({
        en: `The command could not be carried out (${job.attemptsMade} attempts)`,
        ko: `명령을 처리하지 못했습니다 (${job.attemptsMade}회 시도)`,
      });
    // Completed without a receipt: a job its mailbox did not know; it will never answer.
    if (state === 'completed')
      return fail({ en: 'The command was not carried out', ko: '명령이 처리되지 않았습니다' });
    return undefined;
  }
  // The job is gone. A receipt written meanwhile means it ended after all.
  if (await findReceipt(em, row.id)) {
    await forgetQueuedCommand(em, row.id);
    return 'forgotten';
  }
  if (row.requeues >= MAX_REQUEUES)
    return fail({
      en: 'The command was lost by the message broker',
      ko: '메시지 브로커에서 명령이 유실되었습니다',
    });
  if (!(await countRequeue(em, row.id, row.requeues))) return undefined;
  await queue.add(row.type, data, { ...commandJobOptions(ctx.config), jobId: row.id });
  log.warn({ commandId: row.id, type: row.type }, 'lost command job put back in its mailbox');
  return 'requeued';
}
