import type { AppContext } from '../context';
import { perContext } from '../per-context';
import { publishTo } from './pubsub';

export const outboxWakeChannel = (redisPrefix: string) => `${redisPrefix}:outbox-wake`;

/** A wake-up about domain events only: a relay gathering events for one job need not claim early. */
export const EVENTS_ONLY_WAKE = 'events';

/** What a wake-up says: rows with actor messages among them ('1'), or domain events only. */
export type WakeMessage = typeof EVENTS_ONLY_WAKE | '1';

/** The relays running in this process for a shop context, as their wake-up handlers. */
const localRelays = perContext((_ctx: AppContext) => new Set<(message: WakeMessage) => void>());

/**
 * Registers a relay of this process: from now on a commit here wakes it directly, not through Redis
 * (see wakeOutboxRelay). Returns the unregistration, for the relay's stop.
 */
export function registerLocalRelay(ctx: AppContext, onWake: (message: WakeMessage) => void): () => void {
  const relays = localRelays(ctx);
  relays.add(onWake);
  return () => relays.delete(onWake);
}

/**
 * Tells a relay that rows were committed, so delivery takes milliseconds rather than a poll interval.
 * Any relay delivers any row, so when this process runs one (the workers' process, which commits
 * nearly every row) it is told in memory: no PUBLISH, no round trip through Redis and back. A process
 * without one (the API's, with workers elsewhere) tells every relay in any process over Redis. Losing
 * a wake-up only delays delivery until the next poll. `eventsOnly`: no actor message among the rows
 * (see OutboxRelay.run).
 */
export async function wakeOutboxRelay(ctx: AppContext, eventsOnly = false): Promise<void> {
  const message: WakeMessage = eventsOnly ? EVENTS_ONLY_WAKE : '1';
  const relays = localRelays(ctx);
  if (relays.size > 0) {
    for (const onWake of relays) onWake(message);
    return;
  }
  await publishTo(ctx.redis, outboxWakeChannel(ctx.config.redisPrefix), message);
}
