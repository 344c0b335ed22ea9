import type { AppContext } from '../context';

export interface HeldSenderOptions<C> {
  /** Jobs kept unanswered at once; 0: commands wait only while an add is in flight. */
  jobsInFlight: number;
  /** An unanswered job stops holding the next one back after this long (a lost reply, a stopped worker). */
  holdMaxMs: number;
  /** Most commands one job carries; a full batch never waits. */
  maxBatch: number;
  /** The command's id: its reply releases the hold, and the same id sent twice at once is sent once. */
  idOf: (command: C) => string;
  /** Adds one job carrying these commands (in this order); resolves with its job id. */
  add: (commands: C[]) => Promise<string>;
}

interface Pending<C> {
  command: C;
  sent: (jobId: string) => void;
  failed: (error: unknown) => void;
}

/**
 * Hold and batch, the API side of a group commit: a command goes to its mailbox at once unless
 * `jobsInFlight` jobs of this sender are still unanswered (or an add is in flight); those that arrive
 * meanwhile wait and then go together, as ONE job. No timer: a lone command waits for nothing, and
 * the next job fills while the worker runs the previous one. A job stops holding the next back when
 * its first member is answered, or after `holdMaxMs`. Commands leave in the order they were sent and
 * one add runs at a time, so two commands of one sender are never reordered on their way to Redis.
 */
export class HeldSender<C> {
  private waiting: Pending<C>[] = [];
  /** The same command twice while it is being sent (a keyed retry): sent once. */
  private readonly sending = new Map<string, Promise<string>>();
  private adding = false;
  private unanswered = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly options: HeldSenderOptions<C>,
  ) {}

  /** Resolves with the id of the mailbox job that carries the command, once Redis has it. */
  send(command: C): Promise<string> {
    const id = this.options.idOf(command);
    const already = this.sending.get(id);
    if (already) return already;
    const sent = new Promise<string>((resolve, reject) => {
      this.waiting.push({ command, sent: resolve, failed: reject });
    }).finally(() => this.sending.delete(id));
    this.sending.set(id, sent);
    this.pump();
    return sent;
  }

  private pump(): void {
    if (this.adding || this.waiting.length === 0) return;
    const { jobsInFlight: limit, maxBatch } = this.options;
    if (limit > 0 && this.unanswered >= limit && this.waiting.length < maxBatch) return;
    const batch = this.waiting.splice(0, maxBatch);
    const hold = limit > 0 ? this.holdUntilAnswered(this.options.idOf(batch[0]!.command)) : undefined;
    this.adding = true;
    void this.options
      .add(batch.map((p) => p.command))
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
    const { reply, cancel } = this.ctx.replies.expect(commandId, this.options.holdMaxMs);
    void reply.then(() => {
      this.unanswered--;
      this.pump();
    });
    return cancel;
  }
}
