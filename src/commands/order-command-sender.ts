import type { AppContext } from '../context';
import { uuidv7 } from '../ids';
import {
  BATCHED_ORDER_COMMANDS,
  type BatchedOrderCommand,
  MAX_COMMAND_BATCH,
  ORDER_COMMAND_BATCH,
} from '../messaging/messages';
import { orderShard } from '../messaging/order-shards';
import { perContext } from '../per-context';
import { commandJobOptions } from './command-jobs';
import { HeldSender } from './held-sender';

export const isBatchedOrderCommand = (name: string): name is BatchedOrderCommand['name'] =>
  (BATCHED_ORDER_COMMANDS as readonly string[]).includes(name);

/**
 * Group sending of the commands on existing orders (PAY, CANCEL, CONFIRM, REFUND), one hold per order
 * shard (held-sender.ts): while ORDER_COMMAND_JOBS_IN_FLIGHT jobs of this process for a shard are
 * unanswered, later commands for that shard wait and go together as ONE COMMAND_BATCH job, released
 * by the first member's answer or after ORDER_COMMAND_HOLD_MAX_MS. A lone command is an ordinary job
 * of its own name whose id is the command id. All four kinds share the shard's queue, in the order
 * they were sent, so two commands for one order are never reordered on their way to the mailbox.
 */
export class OrderCommandSender {
  private readonly shards = new Map<number, HeldSender<BatchedOrderCommand>>();

  constructor(private readonly ctx: AppContext) {}

  /** Resolves with the id of the mailbox job that carries the command, once Redis has it. */
  send(command: BatchedOrderCommand): Promise<string> {
    const shard = orderShard(this.ctx.queues.orderShards.length, command.data, command.data.commandId);
    return this.senderFor(shard).send(command);
  }

  private senderFor(shard: number): HeldSender<BatchedOrderCommand> {
    let sender = this.shards.get(shard);
    if (!sender) {
      const { config } = this.ctx;
      sender = new HeldSender(this.ctx, {
        jobsInFlight: config.orderCommandJobsInFlight,
        holdMaxMs: config.orderCommandHoldMaxMs,
        maxBatch: MAX_COMMAND_BATCH,
        idOf: (command) => command.data.commandId,
        add: (commands) => this.add(shard, commands),
      });
      this.shards.set(shard, sender);
    }
    return sender;
  }

  private async add(shard: number, commands: BatchedOrderCommand[]): Promise<string> {
    const queue = this.ctx.queues.orderShards[shard]!;
    const options = commandJobOptions(this.ctx.config);
    if (commands.length === 1) {
      const { name, data } = commands[0]!;
      await queue.add(name, data, { ...options, jobId: data.commandId });
      return data.commandId;
    }
    const jobId = `command-batch-${uuidv7()}`;
    await queue.add(ORDER_COMMAND_BATCH, { commands }, { ...options, jobId });
    return jobId;
  }
}

/** The process's sender of commands on existing orders for this shop context. */
export const orderCommandSender = perContext((ctx: AppContext) => new OrderCommandSender(ctx));
