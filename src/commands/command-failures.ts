import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { giveBackTake } from '../catalog/stock-gate';
import type { AppContext } from '../context';
import { isDomainError } from '../errors/domain-error';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes';
import type { Logger } from '../logger';
import { isUnrecoverable } from '../messaging/batch-members';
import { type CommandEnvelope, ORDER_COMMAND_BATCH, ORDER_PLACE_BATCH } from '../messaging/messages';
import { publishReply, replyChannelFor } from '../messaging/replies';
import { forgetQueuedCommand } from './queued-commands';
import { findReceipt, insertFailedReceipt, type Receipt } from './receipts';

/** A client command's job: its id is the command id and it says who sent it. */
export function isCommandJob(job: Job): job is Job<CommandEnvelope> {
  const data = job.data as Partial<CommandEnvelope> | undefined;
  return typeof data?.commandId === 'string' && typeof data.userId === 'string' && job.id === data.commandId;
}

const isEnvelope = (data: unknown): data is CommandEnvelope => {
  const d = data as Partial<CommandEnvelope> | null | undefined;
  return typeof d?.commandId === 'string' && typeof d.userId === 'string';
};

/**
 * The commands a job carries: itself, or the members of a PLACE_BATCH or COMMAND_BATCH job (as far
 * as readable).
 */
export function commandsOfJob(job: Job): { type: string; command: CommandEnvelope }[] {
  if (isCommandJob(job)) return [{ type: job.name, command: job.data }];
  const members = (job.data as { commands?: unknown } | undefined)?.commands;
  if (!Array.isArray(members)) return [];
  if (job.name === ORDER_PLACE_BATCH)
    return members.filter(isEnvelope).map((command) => ({ type: 'PLACE', command }));
  if (job.name !== ORDER_COMMAND_BATCH) return [];
  return members.flatMap((member: { name?: unknown; data?: unknown } | null) =>
    typeof member?.name === 'string' && isEnvelope(member.data)
      ? [{ type: member.name, command: member.data }]
      : [],
  );
}

/** BullMQ will not run the job again after this error: it was its last attempt, or cannot succeed. */
export function isFinalFailure(job: Job, error: unknown): boolean {
  return isUnrecoverable(error) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && code in ERROR_CODES;

/**
 * The answer a command that failed for good ends with: an error carrying an API code keeps it (a job
 * whose data does not parse is VALIDATION_ERROR); anything else is INTERNAL, without the internal
 * message (which may name tables or hosts).
 */
export function failureAnswer(
  error: unknown,
  attempts: number,
): { httpStatus: number; error: Receipt['error'] } {
  if (isDomainError(error)) return { httpStatus: error.status, error: error.toJSON() };
  const code = (error as { code?: unknown } | undefined)?.code;
  if (isErrorCode(code)) {
    return { httpStatus: ERROR_CODES[code].status, error: { error: code, message: ERROR_CODES[code].en } };
  }
  return {
    httpStatus: ERROR_CODES.INTERNAL.status,
    error: {
      error: 'INTERNAL',
      message: `The command could not be carried out (${attempts} attempt${attempts === 1 ? '' : 's'})`,
      messageKo: `명령을 처리하지 못했습니다 (${attempts}회 시도)`,
    },
  };
}

/**
 * Ends a command FAILED: the receipt (the first answer stays if there is one) and a reply to a client
 * still waiting. A command whose sender no longer exists has nobody to answer: it is only forgotten.
 */
export async function endCommandFailed(
  ctx: AppContext,
  em: EntityManager,
  command: {
    commandId: string;
    userId: string;
    type: string;
    idempotencyKey: string | null;
    requestHash: string | null;
    replyTo?: string | undefined;
  },
  answer: { httpStatus: number; error: Receipt['error'] },
  log: Logger,
): Promise<void> {
  try {
    await insertFailedReceipt(em, { ...command, ...answer }, new Date());
  } catch (error) {
    if ((error as { code?: string }).code !== '23503') throw error;
    log.warn({ commandId: command.commandId }, 'the sender of a failed command is gone; nothing to record');
    await forgetQueuedCommand(em, command.commandId);
    return;
  }
  await forgetQueuedCommand(em, command.commandId);
  // The first answer stays: if the command got a receipt meanwhile, that one answers the client.
  const stored = await findReceipt(em, command.commandId);
  if (stored?.status !== 'FAILED') return;
  // A placement that ended without reserving: its stock gate take (if any) goes back.
  await giveBackTake(ctx, command.commandId).catch((err) =>
    log.warn({ err: String(err) }, 'stock gate take not given back; the reconciliation repairs it'),
  );
  await publishReply(ctx.redis, replyChannelFor(ctx.config.redisPrefix, command), {
    commandId: command.commandId,
    requestHash: command.requestHash,
    status: 'FAILED',
    error: stored.error,
  }).catch((err) => log.debug({ err: String(err) }, 'failure reply not published; the receipt answers'));
}

/**
 * Hooked on a worker's failed attempt: when it was the command's last, the command ends FAILED. If
 * this cannot be written now (the database is down), the receipt sweeper ends it later.
 */
export async function recordCommandFailure(
  ctx: AppContext,
  job: Job,
  error: unknown,
  log: Logger,
): Promise<void> {
  if (!isFinalFailure(job, error)) return;
  // A batch's members end one by one: those that committed keep their receipt (the first answer stays).
  for (const { type, command } of commandsOfJob(job)) {
    await endCommandFailed(
      ctx,
      ctx.orm.em.fork(),
      {
        commandId: command.commandId,
        userId: command.userId,
        type,
        idempotencyKey: command.idempotencyKey ?? null,
        requestHash: command.requestHash ?? null,
        replyTo: command.replyTo,
      },
      failureAnswer(error, job.attemptsMade + 1),
      log,
    ).catch((err) =>
      log.warn(
        { err: String(err), commandId: command.commandId },
        'failed receipt not written; the sweeper will',
      ),
    );
    log.warn({ commandId: command.commandId, attempts: job.attemptsMade + 1 }, 'command failed for good');
  }
}
