import type { OutcomeResult, ResourceKind } from '../db/schema/command.entity';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { onChannelMessage, publishTo, subscribeTo } from './pubsub';
import type { Redis } from './redis';

/**
 * A refusal as stored and replied: the API error code, its message and details. `messageKo` is the
 * Korean of a message that is not the code's default (DomainError.toJSON).
 */
export interface CommandError {
  error: string;
  message: string;
  messageKo?: string;
  details?: unknown[];
}

/**
 * A command carried out (the domain outcome and the view of what it names) or refused. No HTTP
 * status: the HTTP layer derives it from the outcome or the error code.
 */
export type CommandAnswer =
  | { status: 'DONE'; outcome: { kind: ResourceKind; id: string; result: OutcomeResult }; view: unknown }
  | { status: 'FAILED'; error: CommandError | null };

/** What a worker tells the waiting HTTP request once a command is carried out (or refused). */
export type CommandReply = CommandAnswer & { commandId: string; requestHash: string | null };

/** The shared replies channel, or an API process's own (`replyTo`). */
export const repliesChannel = (redisPrefix: string, replyTo?: string | null) =>
  replyTo ? `${redisPrefix}:replies:${replyTo}` : `${redisPrefix}:replies`;

/**
 * Where a command's answer goes: the channel of the API process that sent it, so each process hears
 * only its own; a keyed command's goes to the shared channel, as a retry of it may be waiting in
 * another process (and so does one sent without `replyTo`, e.g. by an older process).
 */
export const replyChannelFor = (
  redisPrefix: string,
  command: { replyTo?: string | undefined; idempotencyKey: string | null },
) => repliesChannel(redisPrefix, command.idempotencyKey ? null : command.replyTo);

/**
 * Best-effort delivery of command outcomes over Redis pub/sub: each API process listens on its own
 * channel (commands it sends name it as `replyTo`) and on the shared one (keyed commands), waiters
 * keyed by command id. A lost reply only means the client gets 202 and polls the receipt.
 */
export class ReplyListener {
  /** This process's own reply channel, named by the commands it sends. */
  readonly replyTo = uuidv7();
  private readonly waiters = new Map<string, Set<(reply: CommandReply) => void>>();
  private ready: Promise<unknown>;

  constructor(
    private readonly subscriber: Redis,
    redisPrefix: string,
    log: Logger,
  ) {
    const channels = [repliesChannel(redisPrefix), repliesChannel(redisPrefix, this.replyTo)];
    this.ready = Promise.all(channels.map((channel) => subscribeTo(subscriber, channel))).catch((err) =>
      log.warn({ err: String(err) }, 'reply channel'),
    );
    onChannelMessage(subscriber, (ch, message) => {
      if (!channels.includes(ch)) return;
      try {
        const parsed = JSON.parse(message) as CommandReply | CommandReply[];
        for (const reply of Array.isArray(parsed) ? parsed : [parsed]) {
          const waiting = this.waiters.get(reply.commandId);
          if (waiting) for (const resolve of waiting) resolve(reply);
        }
      } catch (err) {
        log.warn({ err: String(err) }, 'unreadable reply');
      }
    });
  }

  /** Registers interest before the command is sent; resolves with the reply or undefined on timeout. */
  expect(
    commandId: string,
    timeoutMs: number,
  ): { reply: Promise<CommandReply | undefined>; cancel: () => void } {
    let done!: (reply: CommandReply | undefined) => void;
    const reply = new Promise<CommandReply | undefined>((resolve) => {
      done = resolve;
    });
    const set = this.waiters.get(commandId) ?? new Set();
    this.waiters.set(commandId, set);
    const finish = (value: CommandReply | undefined) => {
      clearTimeout(timer);
      set.delete(finish);
      if (set.size === 0) this.waiters.delete(commandId);
      done(value);
    };
    set.add(finish);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    return { reply, cancel: () => finish(undefined) };
  }

  async whenSubscribed(): Promise<void> {
    await this.ready;
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

export async function publishReply(redis: Redis, channel: string, reply: CommandReply): Promise<void> {
  await publishTo(redis, channel, JSON.stringify(reply));
}

/** The replies of a batch of commands for one channel in one message (one PUBLISH, one wake-up). */
export async function publishReplies(
  redis: Redis,
  channel: string,
  replies: readonly CommandReply[],
): Promise<void> {
  if (replies.length === 0) return;
  await publishTo(redis, channel, JSON.stringify(replies.length === 1 ? replies[0] : replies));
}
