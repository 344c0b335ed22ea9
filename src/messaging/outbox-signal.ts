import type { AppContext } from '../context';
import { publishTo } from './pubsub';

export const outboxWakeChannel = (redisPrefix: string) => `${redisPrefix}:outbox-wake`;

/**
 * Tells every relay (in any process) that rows were committed, so delivery takes milliseconds rather
 * than a poll interval. Losing a wake-up only delays delivery until the next poll.
 */
export async function wakeOutboxRelay(ctx: AppContext): Promise<void> {
  await publishTo(ctx.redis, outboxWakeChannel(ctx.config.redisPrefix), '1');
}
