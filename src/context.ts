import type { Config } from './config';
import { createOrm, type Orm } from './db/orm';
import type { Logger } from './logger';
import { createRedis, type Redis } from './messaging/redis';
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
  tokens: TokenService;
  passwords: PasswordHasher;
  close: () => Promise<void>;
}

export async function createContext(config: Config, databaseUrl: string, log: Logger): Promise<AppContext> {
  const orm = await createOrm(databaseUrl, config.databasePoolSize);
  const redis = createRedis(config.redisUrl, 'command', `${config.redisPrefix}:api`);
  const prefix = config.redisPrefix;
  return {
    config,
    log,
    orm,
    redis,
    key: (...parts) => [prefix, ...parts].join(':'),
    tokens: jwtTokens(config.jwtSecret, config.jwtTtlS),
    passwords: argon2Hasher(config.passwordHashMemoryKib),
    close: async () => {
      redis.disconnect();
      await orm.close();
    },
  };
}
