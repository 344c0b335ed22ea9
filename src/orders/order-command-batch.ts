import type { Job } from 'bullmq';
import { refuse } from '../commands/run-command';
import type { AppContext } from '../context';
import { DomainError } from '../errors/domain-error';
import type { Logger } from '../logger';
import { runBatchMembers } from '../messaging/batch-members';
import {
  type BatchedOrderCommand,
  type CommandBatchMember,
  CommandEnvelopeSchema,
} from '../messaging/messages';
import { orderRoutingKey } from '../messaging/order-shards';
import { isInvalidJobError, parseMailboxJob } from '../messaging/parse-job';
import { runOrderCommand } from './order-actor';

/**
 * The members of a COMMAND_BATCH job, each carried out exactly as the lone command of its name
 * (runOrderCommand: its own transaction, receipt and reply; a refusal is that member's answer), by
 * the batch runner of the relay's batches (runBatchMembers): members for one order one after another
 * in the order they were sent, the others side by side (at most the mailbox's concurrency). If one
 * fails, the job fails after the others ran; its retry runs only the unsettled members, and a member
 * for the same order as the failed one waits for it, so the order's commands keep their order. No
 * return value: the receipts are the record.
 */
export function runOrderCommandBatch(
  ctx: AppContext,
  job: Job,
  members: readonly CommandBatchMember[],
  log: Logger,
): Promise<void> {
  const commandIdOf = (member: CommandBatchMember) => String(member.data.commandId);
  const unique = [...new Map(members.map((m) => [commandIdOf(m), m])).values()];
  return runBatchMembers(job, unique, {
    idOf: commandIdOf,
    run: (member) => runMember(ctx, job, member, log),
    laneOf: (member) => orderRoutingKey(member.data),
    concurrency: ctx.config.orderWorkerConcurrency,
    log,
  });
}

async function runMember(ctx: AppContext, job: Job, member: CommandBatchMember, log: Logger) {
  const delivery = { name: member.name, attemptsMade: job.attemptsMade, stalledCounter: job.stalledCounter };
  let message: BatchedOrderCommand;
  try {
    // The batch's schema checked only each member's name: its data is parsed as a lone job's would be.
    message = parseMailboxJob('order', member) as BatchedOrderCommand;
  } catch (error) {
    if (!isInvalidJobError(error)) throw error;
    // Refused alone, as a malformed lone job would be; without a readable envelope nobody can be answered.
    const envelope = CommandEnvelopeSchema.safeParse(member.data);
    if (!envelope.success) {
      log.warn({ name: member.name }, 'unreadable batch member; dropped');
      return;
    }
    const details = error.issues.map((issue) => ({ field: issue.path, message: issue.message }));
    const refusal = new DomainError('VALIDATION_ERROR', undefined, details);
    return refuse(
      ctx,
      member.name,
      envelope.data,
      refusal,
      log.child({ commandId: envelope.data.commandId }),
    );
  }
  return runOrderCommand(ctx, delivery, message, log.child({ commandId: message.data.commandId }));
}
