import pg, { type Pool } from 'pg';
import { inject } from 'vitest';
import { type App, createApp } from '../../src/app';
import { type Config, loadConfig } from '../../src/config';
import { type AppContext, createContext } from '../../src/context';
import { clientsEndedAtClose } from '../../src/db/pool-guard';
import type { Role } from '../../src/db/schema/user.entity';
import { User } from '../../src/db/schema/user.entity';
import { createLogger } from '../../src/logger';
import { masterNodes, waitUntilReady } from '../../src/messaging/redis';
import { startTracing } from '../../src/tracing/tracing';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createTestDatabase, databaseUrl, dropTestDatabase } from './databases';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * TEST_REDIS_CLUSTER_NODES=host:port,… runs a test file against a Redis Cluster instead of the
 * single Redis, with the order mailbox in TEST_ORDER_SHARDS shards (4 by default) — e.g. the order,
 * payment and coupon files: docs/redis-cluster.md#tests.
 */
function clusterEnv(): Record<string, string> {
  const nodes = process.env.TEST_REDIS_CLUSTER_NODES;
  if (!nodes) return {};
  return { REDIS_CLUSTER_NODES: nodes, ORDER_SHARDS: process.env.TEST_ORDER_SHARDS ?? '4' };
}

export interface TestUser {
  id: string;
  email: string;
  role: Role;
  token: string;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string | undefined;
  headers?: Record<string, string>;
  /** A raw string is sent as is (for malformed-JSON tests); anything else is JSON-encoded. */
  body?: unknown;
}

export interface TestShop {
  ctx: AppContext;
  workers: RunningWorkers;
  app: App;
  config: Config;
  databaseName: string;
  request: <T = any>(method: string, path: string, options?: RequestOptions) => Promise<ApiResponse<T>>;
  /** Inserts a user straight into the database and signs a token for it. */
  createUser: (role?: Role, overrides?: { balance?: number; email?: string }) => Promise<TestUser>;
  close: () => Promise<void>;
}

/** Test-friendly defaults; a test file overrides what it is about. */
export function testEnv(
  databaseName: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl(databaseName),
    DATABASE_POOL_SIZE: '10',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `t${process.pid}${Math.random().toString(36).slice(2, 8)}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    SEED_DEMO: 'false',
    // Test files that exercise mailboxes ask for workers; the rest stay lean.
    WORKERS: 'none',
    ORDER_SWEEP_INTERVAL_MS: '1000',
    OUTBOX_POLL_INTERVAL_MS: '200',
    PAYMENT_GATEWAY_LATENCY_MS: '0',
    // A file that brings its own Redis (a private server it stops and restarts) keeps it.
    ...(overrides.REDIS_URL ? {} : clusterEnv()),
    ...overrides,
  };
}

/**
 * A whole shop for one test file: its own database (cloned from the migrated template), its own
 * Redis key prefix, the real HTTP app called in-process through `app.request()`.
 */
export async function createTestShop(overrides: Record<string, string> = {}): Promise<TestShop> {
  // TEST_TRACING=1 runs a test file with tracing on (spans made and propagated, then dropped): the
  // shop must behave the same either way.
  if (process.env.TEST_TRACING === '1') {
    const { NoopSpanProcessor } = await import('@opentelemetry/sdk-trace');
    await startTracing({ spanProcessors: [new NoopSpanProcessor()] });
  }
  const databaseName = await createTestDatabase(inject('templateDatabase'));
  const config = loadConfig(testEnv(databaseName, overrides));
  const log = createLogger(config);
  const ctx = await createContext(config, config.databaseUrl!, log);
  await waitUntilReady(ctx.redis);
  await ctx.replies.whenSubscribed();
  const workers = await startWorkers(ctx, config.workers);
  const app = createApp(ctx);

  const request = async <T = any>(method: string, path: string, options: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. an event stream); keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };

  let counter = 0;
  const fastHash = await ctx.passwords.hash('password123');
  const createUser = async (role: Role = 'BUYER', overrides: { balance?: number; email?: string } = {}) => {
    const em = ctx.orm.em.fork();
    const email =
      overrides.email ??
      `${role.toLowerCase()}${++counter}.${Math.random().toString(36).slice(2, 8)}@test.local`;
    const user = em.create(User, {
      email,
      name: `${role} ${counter}`,
      role,
      passwordHash: fastHash,
      balance: overrides.balance ?? 0,
      businessNumber: role === 'SELLER' ? '123-45-67890' : null,
    });
    await em.flush();
    return { id: user.id, email, role, token: await ctx.tokens.sign({ id: user.id, role, tokenVersion: 0 }) };
  };

  const close = async () => {
    await namedIfSlow('workers.close()', workers.close());
    await namedIfSlow('deleting its Redis keys', deleteKeys(ctx, `${config.redisPrefix}:*`));
    const pool = (await ctx.orm.em.getConnection().getNativeClient()) as Pool;
    await namedIfSlow('ctx.close()', ctx.close(), () => whatThePoolHolds(pool, databaseName));
    // The close ends clients nobody gave back (src/db/orm.ts closeOrm): a holder that leaks one.
    const leaked = clientsEndedAtClose(pool);
    if (leaked > 0)
      process.stderr.write(`[test-shop] closing: ${leaked} PostgreSQL client(s) still checked out, ended\n`);
    await namedIfSlow('dropping its database', dropTestDatabase(databaseName));
  };

  return { ctx, workers, app, config, databaseName, request, createUser, close };
}

/** Deletes the file's keys, on each master of a cluster (SCAN walks one node's keys). */
async function deleteKeys(ctx: AppContext, pattern: string) {
  // A master killed by a fault test may linger in the client's node list: only live ones are asked.
  for (const node of masterNodes(ctx.redis).filter((n) => n.status === 'ready')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      // One UNLINK per key: on a cluster, keys of different slots cannot share a command.
      await Promise.all(keys.map((key) => node.unlink(key)));
      cursor = next;
    } while (cursor !== '0');
  }
}

/**
 * Awaits one step of a test shop's close, and names it on stderr if it takes longer than a test's
 * hook should wait for it: a close that hangs then says where (the hook's timeout alone does not).
 */
async function namedIfSlow<T>(step: string, work: Promise<T>, diagnose?: () => Promise<string>): Promise<T> {
  const started = Date.now();
  let diagnosed = false;
  const warning = setInterval(() => {
    process.stderr.write(`[test-shop] closing: ${step} still running after ${Date.now() - started} ms\n`);
    if (diagnose && !diagnosed) {
      diagnosed = true;
      diagnose().then(
        (what) => process.stderr.write(`[test-shop] ${what}\n`),
        (err) => process.stderr.write(`[test-shop] could not look: ${String(err)}\n`),
      );
    }
  }, 15_000);
  try {
    return await work;
  } finally {
    clearInterval(warning);
  }
}

/** What a pool that will not end still holds: its counts and what the database's sessions are doing. */
async function whatThePoolHolds(pool: Pool, databaseName: string): Promise<string> {
  const counts = `pool: ${pool.totalCount} clients, ${pool.idleCount} idle, ${pool.waitingCount} waiting`;
  const client = new pg.Client({ connectionString: databaseUrl(databaseName) });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select pid, state, wait_event_type, wait_event, (now() - xact_start)::text as in_transaction_for,
              left(query, 300) as query
       from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
    );
    return `${counts}; sessions: ${JSON.stringify(rows)}`;
  } finally {
    await client.end();
  }
}
