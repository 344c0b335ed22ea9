/** `npm run worker`: a process that only runs workers (WORKERS selects which; default all). */

import { serve } from '@hono/node-server';
import { ConfigError, loadConfig } from '../src/config';
import { createContext } from '../src/context';
import { resolveDatabase } from '../src/db/database-url';
import { migrate } from '../src/db/orm';
import { metricsApp } from '../src/http/metrics-app';
import { createLogger } from '../src/logger';
import { stopTracing } from '../src/tracing/tracing';
import { startWorkers } from '.';
import { HEARTBEAT, HEARTBEAT_MS } from './worker-processes';

async function main() {
  // A stop asked for while the workers are still starting is kept, and carried out once they run.
  // Forked by `npm start` (worker-processes.ts): if that process is gone, so is the reason to run.
  let stopAsked: string | undefined;
  let stop = (reason: string) => {
    stopAsked ??= reason;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
  if (process.connected) {
    process.once('disconnect', () => stop('parent process gone'));
    // `npm start`'s watchdog: a process whose event loop stops turning is killed and replaced.
    const beat = () => process.connected && process.send?.(HEARTBEAT);
    beat();
    setInterval(beat, HEARTBEAT_MS).unref();
  }
  const config = (() => {
    try {
      return loadConfig();
    } catch (error) {
      if (error instanceof ConfigError) {
        console.error(error.message);
        process.exit(78);
      }
      throw error;
    }
  })();
  const log = createLogger(config, { role: 'worker' });
  const database = await resolveDatabase(config.databaseUrl, log);
  const ctx = await createContext(config, database.url, log);
  await migrate(ctx.orm);
  const workers = await startWorkers(ctx, config.workers === 'none' ? 'all' : config.workers);
  // Job durations and gateway latencies exist only in this process: it is scraped on a port of its own.
  const metrics = config.workerMetricsPort
    ? serve({ fetch: metricsApp(ctx).fetch, port: config.workerMetricsPort, hostname: '0.0.0.0' })
    : undefined;
  metrics?.on('error', (err) => log.warn({ err: String(err) }, 'worker metrics port unavailable'));
  log.info({ workers: workers.names, metricsPort: config.workerMetricsPort || null }, 'workers running');
  let draining: Promise<void> | undefined;
  const drain = (reason: string) =>
    (draining ??= (async () => {
      log.info({ reason }, 'draining: finishing jobs in flight, taking no new ones');
      metrics?.close();
      await workers.close();
      await ctx.close();
      await database.stop();
      await stopTracing(); // flushes the last spans (nothing while tracing is off)
      log.info('drained');
      process.exit(0);
    })());
  stop = (reason) => void drain(reason);
  if (stopAsked) stop(stopAsked);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
