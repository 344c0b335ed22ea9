import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import { uuidv7 } from '../ids';
import { MAX_PLACE_BATCH, ORDER_PLACE_BATCH, type PlaceOrderCommand } from '../messaging/messages';
import { mailboxFor } from '../messaging/queues';
import { perContext } from '../per-context';

/**
 * The options of a client command's job. Completed jobs are not kept: the receipt (the `commands`
 * row, written in the command's own transaction) is what de-duplicates and answers a retry.
 */
export const commandJobOptions = (config: AppContext['config']): JobsOptions => ({
  attempts: config.commandMaxAttempts,
  removeOnComplete: true,
});

interface Pending {
  command: PlaceOrderCommand;
  sent: (jobId: string) => void;
  failed: (error: unknown) => void;
}

/**
 * Group sending of PLACE commands, the API side of the group commit: the first placement goes to
 * the mailbox at once; those that arrive while an add is in flight wait for it and then go
 * together, as ONE job (PLACE_BATCH) — no timer, so a lone order waits for nothing. A batch of one
 * is an ordinary PLACE job whose id is the command id. Each member keeps its own command id,
 * receipt and reply; the order worker hands them to its placement batch.
 */
export class PlacementSender {
  private waiting: Pending[] = [];
  /** The same command twice while it is being sent (a keyed retry): sent once. */
  private readonly sending = new Map<string, Promise<string>>();
  private busy = false;

  constructor(private readonly ctx: AppContext) {}

  /** Resolves with the id of the mailbox job that carries the command, once Redis has it. */
  send(command: PlaceOrderCommand): Promise<string> {
    const already = this.sending.get(command.commandId);
    if (already) return already;
    const sent = new Promise<string>((resolve, reject) => {
      this.waiting.push({ command, sent: resolve, failed: reject });
    }).finally(() => this.sending.delete(command.commandId));
    this.sending.set(command.commandId, sent);
    if (!this.busy) void this.drain();
    return sent;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, MAX_PLACE_BATCH);
        await this.add(batch.map((p) => p.command)).then(
          (jobId) => {
            for (const p of batch) p.sent(jobId);
          },
          (error: unknown) => {
            for (const p of batch) p.failed(error);
          },
        );
      }
    } finally {
      this.busy = false;
    }
  }

  private async add(commands: PlaceOrderCommand[]): Promise<string> {
    const { ctx } = this;
    const options = commandJobOptions(ctx.config);
    if (commands.length === 1) {
      const command = commands[0]!;
      await mailboxFor(ctx.queues, 'order', command, command.commandId).add('PLACE', command, {
        ...options,
        jobId: command.commandId,
      });
      return command.commandId;
    }
    // New orders have no order id yet: the batch goes to one shard, chosen by its own job id.
    const jobId = `place-batch-${uuidv7()}`;
    await mailboxFor(ctx.queues, 'order', {}, jobId).add(
      ORDER_PLACE_BATCH,
      { commands },
      { ...options, jobId },
    );
    return jobId;
  }
}

/** The process's placement sender for this shop context. */
export const placementSender = perContext((ctx: AppContext) => new PlacementSender(ctx));
