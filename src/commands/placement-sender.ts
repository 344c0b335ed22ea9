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
 * Group sending of PLACE commands, the API side of the group commit: a placement goes to the mailbox
 * at once unless PLACE_JOBS_IN_FLIGHT jobs of this process are still unanswered (or an add is in
 * flight); those that arrive meanwhile wait and then go together, as ONE job (PLACE_BATCH). No timer:
 * a lone order waits for nothing, and the next job fills while the worker commits the previous one
 * — at 8 clients that is what turns jobs of one or two orders into jobs of several. A job stops
 * holding the next back when its first member is answered, or after PLACE_HOLD_MAX_MS (a lost reply,
 * a stopped worker); a full batch (64) never waits. A batch of one is an ordinary PLACE job whose id
 * is the command id. Each member keeps its own command id, receipt and reply; the order worker hands
 * them to its placement batch.
 */
export class PlacementSender {
  private waiting: Pending[] = [];
  /** The same command twice while it is being sent (a keyed retry): sent once. */
  private readonly sending = new Map<string, Promise<string>>();
  private adding = false;
  private unanswered = 0;

  constructor(private readonly ctx: AppContext) {}

  /** Resolves with the id of the mailbox job that carries the command, once Redis has it. */
  send(command: PlaceOrderCommand): Promise<string> {
    const already = this.sending.get(command.commandId);
    if (already) return already;
    const sent = new Promise<string>((resolve, reject) => {
      this.waiting.push({ command, sent: resolve, failed: reject });
    }).finally(() => this.sending.delete(command.commandId));
    this.sending.set(command.commandId, sent);
    this.pump();
    return sent;
  }

  private pump(): void {
    if (this.adding || this.waiting.length === 0) return;
    const limit = this.ctx.config.placeJobsInFlight;
    if (limit > 0 && this.unanswered >= limit && this.waiting.length < MAX_PLACE_BATCH) return;
    const batch = this.waiting.splice(0, MAX_PLACE_BATCH);
    const hold = limit > 0 ? this.holdUntilAnswered(batch[0]!.command.commandId) : undefined;
    this.adding = true;
    void this.add(batch.map((p) => p.command))
      .then(
        (jobId) => {
          for (const p of batch) p.sent(jobId);
        },
        (error: unknown) => {
          hold?.();
          for (const p of batch) p.failed(error);
        },
      )
      .finally(() => {
        this.adding = false;
        this.pump();
      });
  }

  /** Counts a job as unanswered until its first member's reply (or the hold limit); returns a release. */
  private holdUntilAnswered(commandId: string): () => void {
    this.unanswered++;
    const { reply, cancel } = this.ctx.replies.expect(commandId, this.ctx.config.placeHoldMaxMs);
    void reply.then(() => {
      this.unanswered--;
      this.pump();
    });
    return cancel;
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
