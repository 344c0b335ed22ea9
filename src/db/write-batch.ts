import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { preparedStatement, query, run, sql } from './sql';

interface Write {
  statement: RawBuilder<unknown>;
  expect?: { rows: number; mismatch: () => Error | Promise<Error> };
}

/**
 * Writes whose results nobody reads before commit, sent together as ONE statement of data-modifying
 * CTEs (`with w0 as (insert …), w1 as (update … returning 1) select …`): a machine step costs one
 * round trip for its rows instead of one per table. A write may expect a row count (a compare-and-set,
 * a conditional stock update); a mismatch becomes the error its caller chose, which rolls the whole
 * transaction back. PostgreSQL runs all sub-statements on one snapshot and checks foreign keys at the
 * end of the statement, so a parent and its children may be inserted side by side.
 */
export class WriteBatch {
  private readonly writes: Write[] = [];

  add(statement: RawBuilder<unknown>): void {
    this.writes.push({ statement });
  }

  /** `statement` must be an UPDATE/INSERT without RETURNING; the batch counts the rows it touched. */
  addExpecting(statement: RawBuilder<unknown>, rows: number, mismatch: () => Error | Promise<Error>): void {
    this.writes.push({ statement: sql`${statement} returning 1`, expect: { rows, mismatch } });
  }

  get size(): number {
    return this.writes.length;
  }

  /** `hot`: a statement run on every placement batch (or every step), sent as a named prepared statement. */
  async flush(em: EntityManager, { hot = false } = {}): Promise<void> {
    const writes = this.writes.splice(0);
    if (writes.length === 0) return;
    if (writes.length === 1 && !writes[0]!.expect) {
      const statement = writes[0]!.statement;
      await run(em, hot ? preparedStatement(statement) : statement);
      return;
    }
    const ctes = writes.map((w, i) => sql`${sql.raw(`w${i}`)} as (${w.statement})`);
    const checked = writes.flatMap((w, i) => (w.expect ? [i] : []));
    const counts = checked.length
      ? sql.join(
          checked.map((i) => sql`(select count(*) from ${sql.raw(`w${i}`)})::int as ${sql.raw(`c${i}`)}`),
        )
      : sql`1 as done`;
    const statement = sql<Record<string, number>>`with ${sql.join(ctes)} select ${counts}`;
    const [row] = await query(em, hot ? preparedStatement(statement) : statement);
    for (const i of checked) {
      const { rows, mismatch } = writes[i]!.expect!;
      if (row![`c${i}`] !== rows) throw await mismatch();
    }
  }
}
