import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import { startWorkers } from '../workers';
import { forkWorkerProcesses } from '../workers/worker-processes';
import { type App, createApp } from './app';
import { ensureAdmin } from './auth/auth.service';
import { rebuildStockGateAtStart } from './catalog/stock-gate-rebuild';
import { type Config, ConfigError, loadConfig } from './config';
import { type AppContext, createContext } from './context';
import { rebuildAllCouponGates } from './coupons/coupon-gate-rebuild';
import { resolveDatabase } from './db/database-url';
import { migrate } from './db/orm';
import { seedDemoCatalogIfEmpty } from './db/seed/demo-catalog';
import { createHttpServer } from './http/http-server';
import { createLogger, type Logger } from './logger';
import { closeOrderStatusStreams } from './messaging/order-status-hub';
import { stopTracing } from './tracing/tracing';

export interface RunningShop {
  ctx: AppContext;
  server: ServerType;
  port: number;
  stop: () => Promise<void>;
}

/** Prepares the database (migrations, admin, demo data) and serves the API. */
export async function startShop(config: Config, log: Logger = createLogger(config)): Promise<RunningShop> {
  const database = await resolveDatabase(config.databaseUrl, log);
  const ctx = await createContext(config, database.url, log);
  try {
    const applied = await migrate(ctx.orm);
    if (applied.length > 0) log.info({ migrations: applied }, 'applied migrations');
    // Before any worker starts: an ADMIN_EMAIL that belongs to a non-admin account stops start-up here.
    await ensureAdmin(ctx);
  } catch (error) {
    await ctx.close().catch(() => {});
    await database.stop().catch(() => {});
    throw error;
  }
  // The workers in processes of their own (WORKER_PROCESSES), started once the database is migrated.
  const forked =
    config.workers !== 'none' && config.workerProcesses > 0
      ? forkWorkerProcesses(
          config.workerProcesses,
          { DATABASE_URL: database.url, WORKERS: config.workers },
          config.workerMetricsPort,
          log,
          config.workerHangTimeoutMs,
        )
      : undefined;
  await rebuildAllCouponGates(ctx).catch((err) => log.warn({ err: String(err) }, 'coupon gates not rebuilt'));
  if (config.seedDemo) await seedDemoCatalogIfEmpty(ctx);
  await rebuildStockGateAtStart(ctx).catch((err) => log.warn({ err: String(err) }, 'stock gate not rebuilt'));

  const workers = await startWorkers(ctx, forked ? 'none' : config.workers);
  const app = createApp(ctx, { readiness: { workers: () => assertWorkersReachable(ctx) } });
  const { server, port } = await listen(app, config.port);
  log.info(
    { port, env: config.env, workers: workers.names, workerProcesses: forked?.pids() ?? [] },
    'shop is listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: no new requests, finishing in-flight work');
      // In-flight requests finish; live order-status streams end now, anything else after a grace period.
      closeOrderStatusStreams();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const grace = setTimeout(
        () => (server as { closeAllConnections?: () => void }).closeAllConnections?.(),
        10_000,
      );
      await closed;
      clearTimeout(grace);
      await forked?.close();
      await workers.close();
      await ctx.close();
      await database.stop();
      log.info('stopped');
    })());
  return { ctx, server, port, stop };
}

/** Ready only if some process (this one or another) consumes the order mailbox. */
export async function assertWorkersReachable(ctx: AppContext): Promise<void> {
  const counts = await Promise.all(ctx.queues.orderShards.map((shard) => shard.getWorkersCount()));
  const unconsumed = ctx.queues.orderShards.filter((_, i) => counts[i] === 0).map((shard) => shard.name);
  if (unconsumed.length > 0) throw new Error(`no worker consumes ${unconsumed.join(', ')}`);
}

function listen(app: App, port: number) {
  return new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const server = createHttpServer(app);
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config);
  const shop = await startShop(config, log).catch((error: unknown) => {
    // A configuration the database contradicts (ADMIN_EMAIL taken by a non-admin account).
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      shop
        .stop()
        .then(() => stopTracing()) // flushes the last spans (nothing while tracing is off)
        .then(
          () => process.exit(0),
          (error) => {
            log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
