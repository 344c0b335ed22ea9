import type { AppContext } from '../context';
import { uuidv7 } from '../ids';
import { MAX_PLACE_BATCH, ORDER_PLACE_BATCH, type PlaceOrderCommand } from '../messaging/messages';
import { mailboxFor } from '../messaging/queues';
import { perContext } from '../per-context';
import { commandJobOptions } from './command-jobs';
import { HeldSender } from './held-sender';

/**
 * Group sending of PLACE commands, the API side of the group commit (held-sender.ts): a placement
 * goes to the mailbox at once unless PLACE_JOBS_IN_FLIGHT jobs of this process are still unanswered
 * (or an add is in flight); those that arrive meanwhile wait and then go together, as ONE job
 * (PLACE_BATCH) — at 8 clients that is what turns jobs of one or two orders into jobs of several. A
 * job stops holding the next back when its first member is answered, or after PLACE_HOLD_MAX_MS; a
 * full batch (64) never waits. A batch of one is an ordinary PLACE job whose id is the command id.
 * Each member keeps its own command id, receipt and reply; the order worker hands them to its
 * placement batch.
 */
export class PlacementSender {
  private readonly held: HeldSender<PlaceOrderCommand>;

  constructor(ctx: AppContext) {
    this.held = new HeldSender(ctx, {
      jobsInFlight: ctx.config.placeJobsInFlight,
      holdMaxMs: ctx.config.placeHoldMaxMs,
      maxBatch: MAX_PLACE_BATCH,
      idOf: (command) => command.commandId,
      add: (commands) => addPlacements(ctx, commands),
    });
  }

  /** Resolves with the id of the mailbox job that carries the command, once Redis has it. */
  send(command: PlaceOrderCommand): Promise<string> {
    return this.held.send(command);
  }
}

async function addPlacements(ctx: AppContext, commands: PlaceOrderCommand[]): Promise<string> {
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

/** The process's placement sender for this shop context. */
export const placementSender = perContext((ctx: AppContext) => new PlacementSender(ctx));
