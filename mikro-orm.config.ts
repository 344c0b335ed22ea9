import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { parse } from 'pg-connection-string';
import { migrations } from './src/db/migrations';
import { releaseClientsThatDie } from './src/db/pool-guard';
import { nameRegisteredStatements } from './src/db/prepared-statements';
import { entities } from './src/db/schema/entities';

export interface OrmSettings {
  clientUrl: string;
  poolSize: number;
  /**
   * PostgreSQL ends a session whose transaction has sat idle this long (0: never). The shop's
   * transactions last milliseconds; one left open — a step awaiting something that never answers —
   * would otherwise hold its row locks (a flash sale's stock row) and its pool slot for good.
   * Unset: PostgreSQL's own setting (the shop passes DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS).
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * A transaction's BEGIN goes out with its first statement, one round trip fewer per transaction
   * (src/db/transaction-edges.ts), and its COMMIT with a last write that waits for it: a round trip
   * fewer for each. Default on; off: BEGIN and COMMIT are sent and answered on their own.
   */
  pipelineTransactionEdges?: boolean;
  debug?: boolean;
}

/** The one MikroORM configuration: the API, the workers, the tests and the migration script share it. */
export function ormConfig({
  clientUrl,
  poolSize,
  idleInTransactionTimeoutMs,
  pipelineTransactionEdges = true,
  debug = false,
}: OrmSettings): Options {
  return defineConfig({
    clientUrl,
    entities,
    extensions: [Migrator],
    // Migrations are listed explicitly so they load the same way under tsx, vitest and a bundle.
    migrations: {
      migrationsList: migrations,
      path: './src/db/migrations',
      snapshot: false,
      emit: 'ts',
      silent: true,
    },
    // The orders-by-status counts are kept by triggers on orders and two tables of their own, written by
    // migration order_status_counts, not by entities: the schema diff leaves them be.
    // So is the function `shop_expect_rows`, by migration expect_rows (src/db/write-batch.ts).
    schemaGenerator: {
      ignoreTriggers: true,
      ignoreRoutines: true,
      skipTables: ['order_status_counts', 'order_status_deltas'],
    },
    pool: { min: 0, max: poolSize, idleTimeoutMillis: 30_000 },
    driverOptions: {
      ...urlParameters(clientUrl),
      connectionTimeoutMillis: 5000,
      ...(idleInTransactionTimeoutMs === undefined
        ? {}
        : { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs }),
      onPoolCreated: (pool: Pool) => {
        releaseClientsThatDie(pool);
        nameRegisteredStatements(pool, { pipeline: pipelineTransactionEdges });
      },
    },
    // Entities are read-your-writes within one fork; nothing implicit is loaded behind a query.
    forceUtcTimezone: true,
    debug,
    allowGlobalContext: false,
  });
}

/**
 * The URL as pg reads it — its parameters too (`sslmode` as `ssl`, `host=/a/socket/dir`,
 * `application_name`, `options`…), which MikroORM drops: it builds pg's options from the URL's host,
 * port, user, password and path only. Not the database: MikroORM names it, and names the server's
 * maintenance database instead when it connects to create ours.
 */
function urlParameters(clientUrl: string): Record<string, unknown> {
  const { database: _database, ...parameters } = parse(clientUrl);
  return Object.fromEntries(Object.entries(parameters).filter(([, value]) => value !== undefined));
}

export default ormConfig({
  clientUrl: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/shop',
  poolSize: 5,
});
