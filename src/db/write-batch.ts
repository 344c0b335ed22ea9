import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { preparedStatement, query, run, runAtCommit, sql } from './sql';

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

  /**
   * `hot`: a statement run on every placement batch (or every step), sent as a named prepared statement.
   * `atCommit`: the transaction's last write, sent with its COMMIT (src/db/transaction-edges.ts): its
   * row counts are checked in SQL (`shop_expect_rows`), and a mismatch fails the COMMIT with its
   * caller's error — whose `mismatch` must then not read in the transaction, which is aborted by then.
   */
  async flush(em: EntityManager, { hot = false, atCommit = false } = {}): Promise<void> {
    const writes = this.writes.splice(0);
    if (writes.length === 0) return;
    if (atCommit) return flushAtCommit(em, writes, hot);
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

/** SQLSTATE of `shop_expect_rows` (migration expect_rows): a write touched other rows than expected. */
const ROWS_NOT_AS_EXPECTED = 'SH001';

/** The batch as one statement whose row counts are checked in SQL, sent with the COMMIT. */
function flushAtCommit(em: EntityManager, writes: Write[], hot: boolean): Promise<void> {
  const ctes = writes.map((w, i) => sql`${sql.raw(`w${i}`)} as (${w.statement})`);
  const checked = writes.flatMap((w, i) => (w.expect ? [i] : []));
  const checks = checked.length
    ? sql.join(
        checked.map(
          (i) =>
            sql`shop_expect_rows((select count(*) from ${sql.raw(`w${i}`)}), ${writes[i]!.expect!.rows}::int, ${`c${i}`}::text) as ${sql.raw(`c${i}`)}`,
        ),
      )
    : sql`1 as done`;
  const statement =
    writes.length === 1 && !writes[0]!.expect
      ? writes[0]!.statement
      : sql`with ${sql.join(ctes)} select ${checks}`;
  return runAtCommit(em, hot ? preparedStatement(statement) : statement, {
    translate: async (error) => {
      const { code, detail } = error as { code?: string; detail?: string };
      const expected = code === ROWS_NOT_AS_EXPECTED ? writes[Number(detail?.slice(1))]?.expect : undefined;
      return expected ? await expected.mismatch() : (error as Error);
    },
  });
}
