import { z } from 'zod';
import { weakPasswordReason } from './auth/password-policy';

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';
const DEV_ADMIN_EMAIL = 'admin@shop.local';
const DEV_ADMIN_PASSWORD = 'admin-password';

const int = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

const workersSchema = z
  .string()
  .default('all')
  .transform((v) => v.trim())
  .pipe(
    z.string().regex(/^(all|none|[a-z-]+(,[a-z-]+)*)$/, 'all, none, or a comma-separated list of queues'),
  );

/** `host:port,host:port`: the seed nodes of a Redis Cluster (any few masters; the rest is discovered). */
const clusterNodesSchema = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((node) => node.trim())
      .filter((node) => node !== ''),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'each node must be host:port'))
      .min(1, 'name at least one host:port'),
  )
  .transform((nodes) =>
    nodes.map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
  );

/** Order mailbox shards this process consumes: `all` or indexes such as `0,1,5`. */
const workerShardsSchema = z
  .string()
  .default('all')
  .transform((v) => v.trim())
  .pipe(z.string().regex(/^(all|\d+(,\d+)*)$/, 'all, or a comma-separated list of shard indexes'))
  .transform((v) => (v === 'all' ? ('all' as const) : [...new Set(v.split(',').map(Number))]));

const corsOriginsSchema = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .pipe(
    z.array(
      z
        .string()
        .refine(
          (origin) => URL.canParse(origin) && new URL(origin).origin === origin,
          'each origin must be scheme://host[:port], without a path or a trailing slash',
        ),
    ),
  );

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: int(0, 3000).pipe(z.number().max(65535)),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_SIZE: int(1, 20),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(0, 60_000),
  /** How long a close waits for pool clients still checked out before it ends their connections. */
  DATABASE_CLOSE_GRACE_MS: int(0, 10_000),
  /** A transaction's BEGIN and COMMIT sent together with its statements (src/db/transaction-edges.ts). */
  DATABASE_PIPELINE_TRANSACTION_EDGES: flag(true),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /**
   * Set: the shop talks to a Redis Cluster through these seed nodes (REDIS_URL then only lends its
   * user, password and TLS). Unset: the single Redis of REDIS_URL.
   */
  REDIS_CLUSTER_NODES: clusterNodesSchema.optional(),
  /** The order mailbox is split into this many queues, each in its own hash slot (docs/redis-cluster.md). */
  ORDER_SHARDS: int(1, 1).pipe(z.number().max(1024)),
  WORKER_SHARDS: workerShardsSchema,
  /** Prefix of every Redis key and BullMQ queue: lets several shops (or test files) share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,40}$/)
    .default('shop'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
  JWT_TTL_S: int(60, 3600),
  ADMIN_EMAIL: z.email().default(DEV_ADMIN_EMAIL),
  ADMIN_PASSWORD: z.string().min(8).default(DEV_ADMIN_PASSWORD),
  /** Argon2id memory cost in KiB (OWASP: 19 MiB). Tests lower it to keep thousands of users cheap. */
  PASSWORD_HASH_MEMORY_KIB: int(1024, 19456),
  ORDER_PAYMENT_TIMEOUT_MS: int(1, 900_000),
  ORDER_AUTO_CONFIRM_MS: int(1, 604_800_000),
  /** The safety net under lost timers; also bounds how late an order expires after Redis lost its timer. */
  ORDER_SWEEP_INTERVAL_MS: int(100, 5000),
  REPLY_TIMEOUT_MS: int(0, 5000),
  /**
   * PLACE jobs an API process keeps unanswered at once (default: one per order shard); placements
   * arriving meanwhile wait and go together as the next job (the API side of the group commit).
   * 0: no limit (they wait only while an add is in flight).
   */
  PLACE_JOBS_IN_FLIGHT: z.coerce.number().int().min(0).max(1024).optional(),
  /** A PLACE job not answered within this long stops holding the next one back (a lost reply, a slow worker). */
  PLACE_HOLD_MAX_MS: int(1, 50).pipe(z.number().max(60_000)),
  /**
   * Jobs of commands on existing orders (PAY, CANCEL, CONFIRM, REFUND) an API process keeps unanswered
   * at once per order shard; those arriving meanwhile wait and go together as the next job of that
   * shard (COMMAND_BATCH). 0: they wait only while an add is in flight.
   */
  ORDER_COMMAND_JOBS_IN_FLIGHT: int(0, 1).pipe(z.number().max(1024)),
  /** Such a job not answered within this long stops holding the next one of its shard back. */
  ORDER_COMMAND_HOLD_MAX_MS: int(1, 50).pipe(z.number().max(60_000)),
  PAYMENT_GATEWAY_LATENCY_MS: int(0, 200),
  PAYMENT_GATEWAY_TIMEOUT_MS: int(1, 3000),
  PAYMENT_MAX_ATTEMPTS: int(1, 3),
  PAYMENT_RETRY_BASE_MS: int(1, 500),
  OUTBOX_MAX_ATTEMPTS: int(1, 8),
  OUTBOX_POLL_INTERVAL_MS: int(10, 1000),
  /**
   * After a relay pass that claimed domain events, passes leave events for this long (actor messages
   * still go at once), so one `events` job carries the commits of that spell; an event after a quiet
   * spell goes out at once. 0: no gathering.
   */
  OUTBOX_GATHER_MS: int(0, 20).pipe(z.number().max(60_000)),
  /**
   * A delivered domain event every consumer that should apply it has not acknowledged (processed_messages)
   * within this long is delivered again (backoff, OUTBOX_MAX_ATTEMPTS, then ALERTED).
   */
  OUTBOX_ACK_DEADLINE_MS: int(100, 10_000),
  /** Attempts of an `events` job (50 ms doubling, at most 5 s apart) before the acknowledgement check takes over. */
  OUTBOX_EVENT_JOB_ATTEMPTS: int(1, 20),
  LOW_STOCK_THRESHOLD: int(0, 5),
  PRODUCT_CACHE_TTL_S: int(1, 60),
  POPULAR_CACHE_TTL_S: int(1, 30),
  LOGIN_MAX_FAILURES: int(1, 10),
  LOGIN_WINDOW_S: int(1, 900),
  /** Login attempts per client address in the window, over all accounts (password spraying). */
  LOGIN_MAX_FAILURES_PER_ADDRESS: int(1, 100),
  /** Registrations (that passed validation) per client address in REGISTER_WINDOW_S; one more answers 429. */
  REGISTER_MAX_PER_ADDRESS: int(1, 10),
  REGISTER_WINDOW_S: int(1, 600),
  /**
   * How many reverse proxies in front of the shop append to X-Forwarded-For: the client address is
   * taken that many entries from the right. 0: the socket's peer address, the header is ignored.
   */
  TRUST_PROXY_HOPS: int(0, 0).pipe(z.number().max(10)),
  /** How long a process trusts what it read of a user's role and token version (revocation delay). */
  TOKEN_CHECK_CACHE_MS: int(0, 5000).pipe(z.number().max(5000, 'at most 5000: revocation must be quick')),
  /** Origins allowed to call the API from a browser (CORS), comma-separated; none by default. */
  CORS_ORIGINS: corsOriginsSchema,
  /** Bull Board shows the queues without retry/add/remove/clean buttons unless this is false. */
  BULL_BOARD_READ_ONLY: flag(true),
  /** Live order-status streams (SSE) one user may hold open at once, per API process. */
  SSE_MAX_STREAMS_PER_USER: int(1, 5),
  COUPON_ISSUE_RATE_PER_MIN: int(1, 30),
  WORKERS: workersSchema,
  /**
   * Worker processes `npm start` forks beside its API process (each runs WORKERS, as `npm run
   * worker`), so HTTP and the workers each get a core; 0 runs the workers inside the API process.
   */
  WORKER_PROCESSES: int(0, 1).pipe(z.number().max(16)),
  /**
   * A forked worker process whose event loop has not answered `npm start` for this long (it sends a
   * heartbeat every second) is hung: it is killed, and started again like one that died.
   */
  WORKER_HANG_TIMEOUT_MS: int(1000, 30_000),
  WORKER_CONCURRENCY: int(1, 32),
  /** Jobs in flight in the order worker: the PLACE commands it holds at once form its placement batches. */
  ORDER_WORKER_CONCURRENCY: int(1, 128),
  /** A job whose worker stops renewing its lock this long is redelivered (a crashed worker). */
  WORKER_LOCK_MS: int(1000, 5000),
  /** How often each worker looks for jobs whose lock lapsed (redelivery ≤ lock + this after a crash). */
  WORKER_STALLED_INTERVAL_MS: int(100, 2500),
  /** Failed jobs kept per queue (Bull Board, admin retry): at most this many, and none older than the age. */
  FAILED_JOBS_KEEP_COUNT: int(0, 1000),
  FAILED_JOBS_KEEP_AGE_S: int(0, 24 * 3600),
  SHOP_TIMEZONE: z
    .string()
    .default('Asia/Seoul')
    .refine((tz) => Intl.supportedValuesOf('timeZone').includes(tz) || tz === 'UTC', 'unknown time zone'),
  /**
   * Load the demo catalog, whose seller and buyer have public passwords (src/db/seed/demo-catalog.ts).
   * Default: true, except with NODE_ENV=production, where true is refused.
   */
  SEED_DEMO: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (for a publicly reachable port). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** `npm run worker` serves /metrics on this port (0: not at all); API processes serve it on PORT. */
  WORKER_METRICS_PORT: int(0, 9464).pipe(z.number().max(65535)),
  /** How often the coupon sweeper expires coupons whose delayed expiry job Redis may have lost. */
  COUPON_SWEEP_INTERVAL_MS: int(100, 60_000),
  /** Attempts per webhook delivery (the first included), spaced by exponential backoff from the base. */
  WEBHOOK_MAX_ATTEMPTS: int(1, 8),
  WEBHOOK_RETRY_BASE_MS: int(1, 1000),
  WEBHOOK_TIMEOUT_MS: int(1, 5000),
  /** An endpoint is disabled after this many deliveries in a row exhausted their attempts (0: never). */
  WEBHOOK_DISABLE_AFTER: int(0, 20),
  /** Failed attempts in a row (any deliveries) that pause an endpoint: its events then wait in PostgreSQL. */
  WEBHOOK_BREAKER_FAILURES: int(1, 10),
  /** First pause of a failing endpoint before a probe; doubles with each failed probe, up to 10 minutes. */
  WEBHOOK_BREAKER_PAUSE_MS: int(10, 30_000),
  /** Live order-status streams (SSE) send a heartbeat comment this often. */
  SSE_HEARTBEAT_MS: int(100, 15_000),
  /** How often the payment actor looks for payments and refunds whose messages Redis may have lost. */
  PAYMENT_SWEEP_INTERVAL_MS: int(100, 2000),
  /**
   * `lenient` makes the mock gateway dedupe nothing and check nothing (a second capture of a payment,
   * a refund above the capture all move money): for tests that the shop itself prevents them.
   */
  MOCK_GATEWAY_MODE: z.enum(['strict', 'lenient']).default('strict'),
  /** Attempts of a client command's job (the first included) before it ends FAILED. */
  COMMAND_MAX_ATTEMPTS: int(1, 20),
  /** How often commands answered 202 are checked for a job that Redis lost or that failed for good. */
  COMMAND_SWEEP_INTERVAL_MS: int(100, 10_000),
  /** The Redis stock gate in front of placements (src/catalog/stock-gate.ts); false: PostgreSQL alone. */
  STOCK_GATE: flag(true),
  /** How often the inventory actor compares the stock gate with PostgreSQL and repairs it. */
  STOCK_GATE_RECONCILE_INTERVAL_MS: int(100, 60_000),
});

export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; a bad value throws a ConfigError naming every offending variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const problems = [...productionProblems(parsed.data, present), ...shardProblems(parsed.data)];
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(parsed.data);
}

function shardProblems(env: z.infer<typeof envSchema>): string[] {
  if (env.WORKER_SHARDS === 'all') return [];
  const outside = env.WORKER_SHARDS.filter((shard) => shard >= env.ORDER_SHARDS);
  return outside.length > 0
    ? [`WORKER_SHARDS: ${outside.join(', ')} not below ORDER_SHARDS (${env.ORDER_SHARDS})`]
    : [];
}

function productionProblems(
  env: z.infer<typeof envSchema>,
  raw: Record<string, string | undefined>,
): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  for (const name of ['JWT_SECRET', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'DATABASE_URL'] as const) {
    if (!raw[name]) problems.push(`${name}: required in production`);
  }
  if (env.JWT_SECRET === DEV_JWT_SECRET)
    problems.push('JWT_SECRET: the development default is refused in production');
  if (env.MOCK_GATEWAY_MODE !== 'strict')
    problems.push('MOCK_GATEWAY_MODE: only the strict gateway is allowed in production');
  if (env.SEED_DEMO)
    problems.push(
      'SEED_DEMO: the demo catalog is refused in production (its seller and buyer have public passwords)',
    );
  if (env.ADMIN_PASSWORD === DEV_ADMIN_PASSWORD) {
    problems.push('ADMIN_PASSWORD: the development default is refused in production');
  } else {
    const weak = weakPasswordReason(env.ADMIN_PASSWORD);
    if (weak) problems.push(`ADMIN_PASSWORD: ${weak}`);
  }
  return problems;
}

function toConfig(env: z.infer<typeof envSchema>) {
  return {
    env: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    port: env.PORT,
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    databaseIdleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    databaseCloseGraceMs: env.DATABASE_CLOSE_GRACE_MS,
    databasePipelineTransactionEdges: env.DATABASE_PIPELINE_TRANSACTION_EDGES,
    redisUrl: env.REDIS_URL,
    redisPrefix: env.REDIS_PREFIX,
    redisClusterNodes: env.REDIS_CLUSTER_NODES,
    orderShards: env.ORDER_SHARDS,
    workerShards: env.WORKER_SHARDS,
    jwtSecret: env.JWT_SECRET,
    jwtTtlS: env.JWT_TTL_S,
    adminEmail: env.ADMIN_EMAIL.toLowerCase(),
    adminPassword: env.ADMIN_PASSWORD,
    passwordHashMemoryKib: env.PASSWORD_HASH_MEMORY_KIB,
    orderPaymentTimeoutMs: env.ORDER_PAYMENT_TIMEOUT_MS,
    orderAutoConfirmMs: env.ORDER_AUTO_CONFIRM_MS,
    orderSweepIntervalMs: env.ORDER_SWEEP_INTERVAL_MS,
    replyTimeoutMs: env.REPLY_TIMEOUT_MS,
    placeJobsInFlight: env.PLACE_JOBS_IN_FLIGHT ?? env.ORDER_SHARDS,
    placeHoldMaxMs: env.PLACE_HOLD_MAX_MS,
    orderCommandJobsInFlight: env.ORDER_COMMAND_JOBS_IN_FLIGHT,
    orderCommandHoldMaxMs: env.ORDER_COMMAND_HOLD_MAX_MS,
    gatewayLatencyMs: env.PAYMENT_GATEWAY_LATENCY_MS,
    gatewayTimeoutMs: env.PAYMENT_GATEWAY_TIMEOUT_MS,
    paymentMaxAttempts: env.PAYMENT_MAX_ATTEMPTS,
    paymentRetryBaseMs: env.PAYMENT_RETRY_BASE_MS,
    outboxMaxAttempts: env.OUTBOX_MAX_ATTEMPTS,
    outboxPollIntervalMs: env.OUTBOX_POLL_INTERVAL_MS,
    outboxGatherMs: env.OUTBOX_GATHER_MS,
    outboxAckDeadlineMs: env.OUTBOX_ACK_DEADLINE_MS,
    outboxEventJobAttempts: env.OUTBOX_EVENT_JOB_ATTEMPTS,
    lowStockThreshold: env.LOW_STOCK_THRESHOLD,
    productCacheTtlS: env.PRODUCT_CACHE_TTL_S,
    popularCacheTtlS: env.POPULAR_CACHE_TTL_S,
    loginMaxFailures: env.LOGIN_MAX_FAILURES,
    loginWindowS: env.LOGIN_WINDOW_S,
    loginMaxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
    registerMaxPerAddress: env.REGISTER_MAX_PER_ADDRESS,
    registerWindowS: env.REGISTER_WINDOW_S,
    trustProxyHops: env.TRUST_PROXY_HOPS,
    tokenCheckCacheMs: env.TOKEN_CHECK_CACHE_MS,
    corsOrigins: env.CORS_ORIGINS,
    bullBoardReadOnly: env.BULL_BOARD_READ_ONLY,
    sseMaxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
    couponIssueRatePerMin: env.COUPON_ISSUE_RATE_PER_MIN,
    workers: env.WORKERS,
    workerProcesses: env.WORKER_PROCESSES,
    workerHangTimeoutMs: env.WORKER_HANG_TIMEOUT_MS,
    workerConcurrency: env.WORKER_CONCURRENCY,
    orderWorkerConcurrency: env.ORDER_WORKER_CONCURRENCY,
    workerLockMs: env.WORKER_LOCK_MS,
    workerStalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    failedJobsKeepCount: env.FAILED_JOBS_KEEP_COUNT,
    failedJobsKeepAgeS: env.FAILED_JOBS_KEEP_AGE_S,
    timezone: env.SHOP_TIMEZONE,
    seedDemo: env.SEED_DEMO ?? env.NODE_ENV !== 'production',
    logLevel: env.LOG_LEVEL,
    metricsToken: env.METRICS_TOKEN,
    workerMetricsPort: env.WORKER_METRICS_PORT,
    couponSweepIntervalMs: env.COUPON_SWEEP_INTERVAL_MS,
    webhookMaxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
    webhookRetryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
    webhookDisableAfter: env.WEBHOOK_DISABLE_AFTER,
    webhookBreakerFailures: env.WEBHOOK_BREAKER_FAILURES,
    webhookBreakerPauseMs: env.WEBHOOK_BREAKER_PAUSE_MS,
    sseHeartbeatMs: env.SSE_HEARTBEAT_MS,
    paymentSweepIntervalMs: env.PAYMENT_SWEEP_INTERVAL_MS,
    mockGatewayMode: env.MOCK_GATEWAY_MODE,
    commandMaxAttempts: env.COMMAND_MAX_ATTEMPTS,
    commandSweepIntervalMs: env.COMMAND_SWEEP_INTERVAL_MS,
    stockGate: env.STOCK_GATE,
    stockGateReconcileIntervalMs: env.STOCK_GATE_RECONCILE_INTERVAL_MS,
  };
}
