import type { Redis } from 'ioredis';
import type pg from 'pg';

/** How much work the database and Redis did during a phase (for "per order" figures). */
export interface WorkCounters {
  /** Committed transactions in the bench database, autocommit single statements included. */
  dbCommits: number;
  dbRollbacks: number;
  dbRowsInserted: number;
  dbRowsUpdated: number;
  /** Commands Redis processed, instance-wide (others sharing the Redis add a little noise). */
  redisCommands: number;
  /** The busiest Redis commands, by calls. */
  redisByCommand: Record<string, number>;
}

type Reading = Omit<WorkCounters, 'redisByCommand'> & { redisByCommand: Map<string, number> };

/**
 * pg_stat_database of the bench database and Redis INFO commandstats. PostgreSQL publishes a
 * backend's counts when it goes idle, at most once a second, so a window's figures are accurate
 * to about a second's worth of work.
 */
/** Where INFO commandstats comes from: one Redis, or a cluster's nodes summed (run.ts). */
export type CommandStatsSource = Pick<Redis, 'info'> | { info: (section: 'commandstats') => Promise<string> };

export async function readCounters(
  pool: pg.Pool,
  database: string,
  redis: CommandStatsSource,
): Promise<Reading> {
  const [{ rows }, info] = await Promise.all([
    pool.query<{ c: string; r: string; i: string; u: string }>(
      `select xact_commit as c, xact_rollback as r, tup_inserted as i, tup_updated as u
       from pg_stat_database where datname = $1`,
      [database],
    ),
    (redis.info as (section: 'commandstats') => Promise<string>)('commandstats'),
  ]);
  const byCommand = new Map<string, number>();
  for (const [, command, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    byCommand.set(command!, Number(calls));
  }
  const row = rows[0]!;
  return {
    dbCommits: Number(row.c),
    dbRollbacks: Number(row.r),
    dbRowsInserted: Number(row.i),
    dbRowsUpdated: Number(row.u),
    redisCommands: [...byCommand.values()].reduce((a, b) => a + b, 0),
    redisByCommand: byCommand,
  };
}

export function countersBetween(from: Reading, to: Reading): WorkCounters {
  const byCommand: [string, number][] = [];
  for (const [command, calls] of to.redisByCommand) {
    const delta = calls - (from.redisByCommand.get(command) ?? 0);
    if (delta > 0) byCommand.push([command, delta]);
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return {
    dbCommits: to.dbCommits - from.dbCommits,
    dbRollbacks: to.dbRollbacks - from.dbRollbacks,
    dbRowsInserted: to.dbRowsInserted - from.dbRowsInserted,
    dbRowsUpdated: to.dbRowsUpdated - from.dbRowsUpdated,
    // INFO itself is counted once per reading.
    redisCommands: Math.max(0, to.redisCommands - from.redisCommands - 1),
    redisByCommand: Object.fromEntries(byCommand.slice(0, 12)),
  };
}
