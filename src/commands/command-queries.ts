import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import { DomainError, storedMessages } from '../errors/domain-error';
import type { ErrorCode, Language } from '../errors/error-codes';
import { CommandEnvelopeSchema } from '../messaging/messages';
import { findJob, QUEUE_NAMES } from '../messaging/queues';
import type { DomainOutcome } from './outcome';
import { findQueuedCommand } from './queued-commands';
import { findReceipt, type Receipt } from './receipts';

export interface CommandReceiptView {
  id: string;
  type: string;
  status: 'QUEUED' | 'DONE' | 'FAILED';
  outcome?: DomainOutcome;
  error?: { error: string; message: string };
}

/**
 * DONE/FAILED from the durable receipt (a FAILED one's message in `lang`); QUEUED while the job still
 * waits in a mailbox. Another user's command does not exist for the caller.
 */
export async function getCommandReceipt(
  ctx: AppContext,
  user: AuthUser,
  id: string,
  lang: Language = 'en',
): Promise<CommandReceiptView> {
  const receipt = await findReceipt(ctx.orm.em.fork(), id);
  if (receipt) {
    if (receipt.userId !== user.id && user.role !== 'ADMIN') throw new DomainError('NOT_FOUND');
    return {
      id,
      type: receipt.type,
      status: receipt.status === 'FAILED' ? 'FAILED' : 'DONE',
      ...(receipt.outcome ? { outcome: receipt.outcome } : {}),
      ...(receipt.error
        ? { error: { error: receipt.error.error, message: receiptMessage(receipt.error, lang) } }
        : {}),
    };
  }
  const queued = await findQueuedCommand(ctx.orm.em.fork(), id);
  if (queued) {
    if (queued.userId !== user.id && user.role !== 'ADMIN') throw new DomainError('NOT_FOUND');
    return { id, type: queued.type, status: 'QUEUED' };
  }
  for (const name of QUEUE_NAMES) {
    const job = await findJob(ctx.queues, name, id);
    const sender = CommandEnvelopeSchema.pick({ userId: true }).safeParse(job?.data);
    if (job && ((sender.success && sender.data.userId === user.id) || user.role === 'ADMIN'))
      return { id, type: job.name, status: 'QUEUED' };
  }
  throw new DomainError('NOT_FOUND');
}

/** A FAILED receipt's message in the client's language (English, or Korean when it has one). */
const receiptMessage = (error: NonNullable<Receipt['error']>, lang: Language): string =>
  storedMessages(error.error as ErrorCode, error.message, error.messageKo)[lang];
