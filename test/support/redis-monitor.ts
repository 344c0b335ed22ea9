import { Redis } from 'ioredis';
import type { TestShop } from './test-shop';
import { TEST_REDIS_URL } from './test-shop';
import { eventually } from './worker-process';

/**
 * Counts, by command name, the Redis commands naming this shop's key prefix while `work` runs —
 * commands run inside Lua scripts (BullMQ's, the gates') included, as INFO commandstats counts them.
 */
export async function redisCommandsDuring(
  shop: TestShop,
  work: () => Promise<unknown>,
  redisUrl = TEST_REDIS_URL,
): Promise<Map<string, number>> {
  const monitor = await new Redis(redisUrl).monitor();
  const counts = new Map<string, number>();
  const prefix = shop.config.redisPrefix;
  const marker = `${prefix}:monitor-marker`;
  let markerSeen = false;
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[1] === marker) {
      markerSeen = true;
      return;
    }
    if (!args.some((arg) => arg.includes(prefix))) return;
    const name = args[0]!.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  try {
    await work();
    // MONITOR lines trail the replies a little: the last ones are awaited by a marker command.
    await shop.ctx.redis.get(marker);
    await eventually(async () => markerSeen || undefined, 5000, 10);
  } finally {
    monitor.disconnect();
  }
  return counts;
}

export const totalOf = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);
