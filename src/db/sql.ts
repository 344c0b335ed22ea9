import type { EntityManager } from '@mikro-orm/postgresql';
import { type RawBuilder, sql } from 'kysely';
import { isPrepared, registerStatement } from './prepared-statements';
import { type AtCommit, atCommit } from './transaction-edges';

/** Marks a hot statement to run as a named prepared statement (see prepared-statements.ts). */
export { preparedStatement } from './prepared-statements';

/**
 * Raw SQL with real bind parameters (arrays arrive as PostgreSQL arrays), running inside the
 * EntityManager's transaction when it has one. Used where the unit of work would cost more than
 * it gives: conditional atomic updates, bulk inserts, hot reads.
 */
export { sql };

export async function query<Row>(em: EntityManager, statement: RawBuilder<Row>): Promise<Row[]> {
  const result = await execute(em, statement);
  return result.rows;
}

/** Runs a statement and returns how many rows it changed. */
export async function run(em: EntityManager, statement: RawBuilder<unknown>): Promise<number> {
  const result = await execute(em, statement);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Runs a transaction's last write, which goes out with its COMMIT (src/db/transaction-edges.ts): in a
 * transaction it is answered at once, with nothing, and fails the COMMIT if it fails (`mark` turning
 * its error into the caller's); outside one it runs as any statement, its error translated the same way.
 */
export async function runAtCommit(
  em: EntityManager,
  statement: RawBuilder<unknown>,
  mark: AtCommit,
): Promise<void> {
  const { kysely, compiled } = compileRegistered(em, statement);
  atCommit(compiled.parameters as unknown[], mark);
  try {
    await kysely.executeQuery(compiled);
  } catch (error) {
    throw await mark.translate(error);
  }
}

function execute<Row>(em: EntityManager, statement: RawBuilder<Row>) {
  if (!isPrepared(statement)) return statement.execute(em.getKysely());
  const { kysely, compiled } = compileRegistered(em, statement);
  return kysely.executeQuery(compiled);
}

/** The statement compiled; a hot one's text registered, so the pool sends it by name (prepared-statements.ts). */
function compileRegistered<Row>(em: EntityManager, statement: RawBuilder<Row>) {
  const kysely = em.getKysely();
  const compiled = statement.compile(kysely);
  if (isPrepared(statement)) registerStatement(compiled.sql);
  return { kysely, compiled };
}

/**
 * Timestamps read through `sql` arrive as strings (MikroORM turns pg's date parsing off for its own
 * hydration); this gives a Date either way.
 */
export function asDate(value: Date | string): Date;
export function asDate(value: Date | string | null): Date | null;
export function asDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  return value instanceof Date ? value : new Date(value);
}

/** A timestamp read through `sql` as an ISO-8601 UTC string (null stays null). */
export function asIso(value: Date | string): string;
export function asIso(value: Date | string | null): string | null;
export function asIso(value: Date | string | null): string | null {
  return value === null ? null : asDate(value).toISOString();
}
