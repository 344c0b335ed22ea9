import { argon2Hasher, type PasswordHasher } from './auth/passwords';
import { TokenChecker } from './auth/token-checker';
import { jwtTokens, type TokenService } from './auth/tokens';
import type { Config } from './config';
import { closeOrm, createOrm, type Orm } from './db/orm';
import { DATABASE_PROBE, DependencyMonitor } from './health/dependency-monitor';
import type { Logger } from './logger';
import { withQuietAdd } from './messaging/event-stream';
import {
  closeQueues,
  createQueues,
  failedJobRetention,
  paymentJobOptions,
  type Queues,
} from './messaging/queues';
import { createRedis, type Redis, waitUntilReady } from './messaging/redis';
import { ReplyListener } from './messaging/replies';

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
  /** Whether PostgreSQL and Redis answered lately: commands are refused up front while one is down. */
  dependencies: DependencyMonitor;
  tokens: TokenService;
  /** Verifies a bearer token and checks that it is not revoked (user gone, token version bumped). */
  tokenChecker: TokenChecker;
  passwords: PasswordHasher;
  close: () => Promise<void>;
}

export async function createContext(config: Config, databaseUrl: string, log: Logger): Promise<AppContext> {
  const orm = await createOrm(databaseUrl, config.databasePoolSize, {
    idleInTransactionTimeoutMs: config.databaseIdleInTransactionTimeoutMs,
    pipelineTransactionEdges: config.databasePipelineTransactionEdges,
  });
  const prefix = config.redisPrefix;
  const redis = createRedis(config, 'command', `${prefix}:api`);
  const producer = withQuietAdd(createRedis(config, 'producer', `${prefix}:producer`));
  const queues = createQueues(producer, prefix, {
    orderShards: config.orderShards,
    jobOptions: { payment: paymentJobOptions(config) },
    removeOnFail: failedJobRetention(config),
  });
  const replies = new ReplyListener(createRedis(config, 'subscriber', `${prefix}:replies`), prefix, log);
  // Probes go through ctx, so they follow whatever ORM and Redis the context holds.
  const dependencies = new DependencyMonitor(
    { database: () => ctx.orm.em.getConnection().execute(DATABASE_PROBE), redis: () => ctx.redis.ping() },
    log,
  );
  const tokens = jwtTokens(config.jwtSecret, config.jwtTtlS);
  const ctx: AppContext = {
    config,
    log,
    orm,
    redis,
    key: (...parts) => [prefix, ...parts].join(':'),
    queues,
    replies,
    dependencies,
    tokens,
    tokenChecker: new TokenChecker(tokens, () => ctx.orm, config.tokenCheckCacheMs),
    passwords: argon2Hasher(config.passwordHashMemoryKib),
    close: async () => {
      dependencies.stop();
      replies.close();
      await closeQueues(queues).catch(() => undefined);
      producer.disconnect();
      redis.disconnect();
      await closeOrm(orm, config.databaseCloseGraceMs, log);
    },
  };
  dependencies.start();
  // Fail-fast connections refuse commands until connected: give them a moment at start-up. A Redis
  // that stays away is not fatal — requests answer 503 until it returns.
  await Promise.all([waitUntilReady(redis), waitUntilReady(producer)]).catch((err) =>
    log.warn({ err: String(err) }, 'Redis is not reachable yet'),
  );
  return ctx;
}
