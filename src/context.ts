import type { Config } from './config';
import { createOrm, type Orm } from './db/orm';
import type { Logger } from './logger';
import { closeQueues, createQueues, paymentJobOptions, type Queues } from './messaging/queues';
import { createRedis, type Redis } from './messaging/redis';
import { ReplyListener } from './messaging/replies';
import { argon2Hasher, type PasswordHasher } from './services/auth/passwords';
import { jwtTokens, type TokenService } from './services/auth/tokens';

/**
 * The process's shared resources. Route factories, services and workers take it as their first
 * argument; nothing else is global.
 */
export interface AppContext {
  config: Config;
  log: Logger;
  orm: Orm;
  /** Fails fast when Redis is down, so requests answer 503 instead of hanging. */
  redis: Redis;
  /** Builds a Redis key under this shop's prefix: key('product', id) → "shop:product:<id>". */
  key: (...parts: (string | number)[]) => string;
  /** The actors' mailboxes (producers only; workers consume in workers/). */
  queues: Queues;
  /** Waits for workers' replies to commands sent from this process. */
  replies: ReplyListener;
  tokens: TokenService;
  passwords: PasswordHasher;
  close: () => Promise<void>;
}

export async function createContext(config: Config, databaseUrl: string, log: Logger): Promise<AppContext> {
  const orm = await createOrm(databaseUrl, config.databasePoolSize);
  const prefix = config.redisPrefix;
  const redis = createRedis(config.redisUrl, 'command', `${prefix}:api`);
  const queues = createQueues(redis, prefix, { payment: paymentJobOptions(config) });
  const replies = new ReplyListener(
    createRedis(config.redisUrl, 'blocking', `${prefix}:replies`),
    prefix,
    log,
  );
  return {
    config,
    log,
    orm,
    redis,
    key: (...parts) => [prefix, ...parts].join(':'),
    queues,
    replies,
    tokens: jwtTokens(config.jwtSecret, config.jwtTtlS),
    passwords: argon2Hasher(config.passwordHashMemoryKib),
    close: async () => {
      replies.close();
      await closeQueues(queues).catch(() => undefined);
      redis.disconnect();
      await orm.close();
    },
  };
}
