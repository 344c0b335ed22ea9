import type { AppContext } from '../context';
import { publishTo } from './pubsub';

export const outboxWakeChannel = (redisPrefix: string) => `${redisPrefix}:outbox-wake`;

/** A wake-up about domain events only: a relay gathering events for one job need not claim early. */
export const EVENTS_ONLY_WAKE = 'events';

/**
 * Tells every relay (in any process) that rows were committed, so delivery takes milliseconds rather
 * than a poll interval. Losing a wake-up only delays delivery until the next poll. `eventsOnly`: no
 * actor message among the rows (see OutboxRelay.run).
 */
export async function wakeOutboxRelay(ctx: AppContext, eventsOnly = false): Promise<void> {
  await publishTo(ctx.redis, outboxWakeChannel(ctx.config.redisPrefix), eventsOnly ? EVENTS_ONLY_WAKE : '1');
}
