import { getInventory } from '../catalog/inventory.service';
import type { AppContext } from '../context';
import { DomainError, type ErrorDetail } from '../errors/domain-error';
import type { ErrorCode } from '../errors/error-codes';
import { uuidv7 } from '../ids';
import type { CommandMailboxes } from '../messaging/messages';
import type { CommandReply } from '../messaging/replies';
import { loadOrderView } from '../orders/order-view';
import { loadPaymentView, loadRefundView } from '../payments/payment-view';
import { rememberQueuedCommand } from './queued-commands';
import { commandIdFor, findReceipt, type Receipt, requestHashOf } from './receipts';

/** What the HTTP layer answers with: a status, a JSON body, and a Location for a 202 receipt. */
export interface CommandOutcome {
  httpStatus: number;
  body: unknown;
  location?: string;
}

type CommandData<Q extends keyof CommandMailboxes, N extends keyof CommandMailboxes[Q]> = Omit<
  CommandMailboxes[Q][N],
  'commandId' | 'requestHash' | 'idempotencyKey'
>;

/**
 * Sends a command to an actor's mailbox and waits up to REPLY_TIMEOUT_MS for its outcome. With an
 * Idempotency-Key the command id is derived from it, so a retried request neither enqueues twice nor
 * runs twice, and replays the first answer (or 422 if the body differs).
 */
export async function dispatchCommand<
  Q extends keyof CommandMailboxes,
  N extends keyof CommandMailboxes[Q] & string,
>(
  ctx: AppContext,
  queue: Q,
  name: N,
  data: CommandData<Q, N>,
  options: { idempotencyKey?: string | undefined; replayStatus?: number } = {},
): Promise<CommandOutcome> {
  const key = options.idempotencyKey ?? null;
  const { userId, role: _role, ...request } = data as unknown as { userId: string; role: string };
  const commandId = key ? commandIdFor(userId, name, key) : uuidv7();
  const requestHash = key ? requestHashOf({ name, ...request }) : null;
  const em = ctx.orm.em.fork();
  if (!ctx.dependencies.isUp('database')) throw new DomainError('SERVICE_UNAVAILABLE');

  if (key) {
    const receipt = await findReceipt(em, commandId);
    if (receipt) return replay(ctx, receipt, requestHash, options.replayStatus);
  }

  const jobData = { ...data, commandId, requestHash, idempotencyKey: key };
  const waiter = ctx.replies.expect(commandId, ctx.config.replyTimeoutMs);
  try {
    await ctx.queues[queue].add(name, jobData as never, {
      jobId: commandId,
      attempts: ctx.config.commandMaxAttempts,
    });
  } catch (error) {
    waiter.cancel();
    throw error;
  }
  const reply = await waiter.reply;
  if (reply) {
    if (reply.requestHash !== requestHash) throw new DomainError('IDEMPOTENCY_KEY_MISMATCH');
    return fromReply(reply);
  }
  // The reply may have been lost (pub/sub is best effort): the receipt is the durable answer. If it
  // cannot be read now, the command is still queued: 202 is the truth, not an error.
  const receipt = await findReceipt(em, commandId).catch(() => undefined);
  if (receipt) return replay(ctx, receipt, requestHash, options.replayStatus);
  await rememberQueuedCommand(
    em,
    { id: commandId, userId, queue, type: name, data: jobData },
    new Date(),
  ).catch((err) =>
    ctx.log.warn({ err: String(err), commandId }, 'queued command not recorded; the sweeper cannot end it'),
  );
  return {
    httpStatus: 202,
    body: { data: { id: commandId, type: name, status: 'QUEUED' } },
    location: `/api/v1/commands/${commandId}`,
  };
}

function fromReply(reply: CommandReply): CommandOutcome {
  if (reply.status === 'FAILED') throw toDomainError(reply.body as Receipt['error']);
  return { httpStatus: reply.httpStatus, body: { data: reply.body } };
}

async function replay(
  ctx: AppContext,
  receipt: Receipt,
  requestHash: string | null,
  replayStatus: number | undefined,
): Promise<CommandOutcome> {
  if (receipt.requestHash !== requestHash) throw new DomainError('IDEMPOTENCY_KEY_MISMATCH');
  if (receipt.status === 'FAILED') throw toDomainError(receipt.error);
  const view = await loadResource(ctx, receipt.resource);
  return { httpStatus: replayStatus ?? receipt.httpStatus, body: { data: view } };
}

/** Order commands: the common case, typed by command name. */
export const dispatchOrderCommand = <N extends keyof CommandMailboxes['order'] & string>(
  ctx: AppContext,
  name: N,
  data: CommandData<'order', N>,
  options?: { idempotencyKey?: string | undefined; replayStatus?: number },
) => dispatchCommand(ctx, 'order', name, data, options);

/** Loads what a receipt's `resource` path names (an order, a payment, a refund, an inventory). */
export async function loadResource(ctx: AppContext, resource: string | null): Promise<unknown> {
  const match =
    resource && /^\/api\/v1\/(orders|payments|refunds|inventory)\/([0-9a-f-]{36})$/.exec(resource);
  if (!match) return null;
  const em = ctx.orm.em.fork();
  const [, kind, id] = match as unknown as [string, string, string];
  if (kind === 'orders') return loadOrderView(em, id);
  if (kind === 'payments') return loadPaymentView(em, id);
  if (kind === 'inventory') return getInventory(ctx, id);
  return loadRefundView(em, id);
}

export function toDomainError(error: Receipt['error']): DomainError {
  if (!error) return new DomainError('INTERNAL');
  return new DomainError(error.error as ErrorCode, error.message, error.details as ErrorDetail[] | undefined);
}
