import { createHash } from 'node:crypto';
import type { Redis } from '../messaging/redis';

export type LuaScript = (redis: Redis, keys: string[], args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not know it yet (first
 * use, or after a Redis restart emptied its script cache).
 */
export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}
