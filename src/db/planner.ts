import type { EntityManager } from '@mikro-orm/postgresql';
import { run, sql } from './sql';

/**
 * For the rest of the transaction, rows are found through indexes, not by reading whole tables. For
 * the passes that run every few seconds over tables that only grow between trims (outbox rows,
 * processed messages): while a table's statistics are young (its first minutes, or after a bulk
 * change before autovacuum analyzes it) the planner guesses a handful of rows, and a plan that reads
 * the whole table once — or once per row of another — looks cheapest. Each use is covered by a test
 * of its plan or of the blocks it reads (test/db/acknowledgement-plan.test.ts, housekeeping-cost.test.ts).
 */
export async function findRowsByIndex(tx: EntityManager): Promise<void> {
  await run(tx, sql`set local enable_seqscan = off`);
}

/**
 * For the rest of the transaction, joins are by hash (or merge), never a nested loop: for a report
 * that joins two tables over a time range, one pass over each, however many rows the planner expects.
 */
export async function joinByHash(tx: EntityManager): Promise<void> {
  await run(tx, sql`set local enable_nestloop = off`);
}
