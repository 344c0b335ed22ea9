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
    const { statement, checked } = asOneStatement(writes, (touched) => sql`${touched}::int`);
    const [row] = await query(em, hot ? preparedStatement(statement) : statement);
    for (const i of checked) {
      const { rows, mismatch } = writes[i]!.expect!;
      if (row![`c${i}`] !== rows) throw await mismatch();
    }
  }
}

/** SQLSTATE of `shop_expect_rows` (migration expect_rows): a write touched other rows than expected. */
const ROWS_NOT_AS_EXPECTED = 'SH001';

/**
 * The writes as ONE statement of data-modifying CTEs (`w0`, `w1`, …) selecting, for each write that
 * expects a row count, `check` of the rows it touched as `c<i>` (or `1 as done` when none does).
 */
function asOneStatement(
  writes: Write[],
  check: (touched: RawBuilder<unknown>, i: number) => RawBuilder<unknown>,
) {
  const ctes = writes.map((w, i) => sql`${sql.raw(`w${i}`)} as (${w.statement})`);
  const checked = writes.flatMap((w, i) => (w.expect ? [i] : []));
  const checks = checked.length
    ? sql.join(
        checked.map(
          (i) => sql`${check(sql`(select count(*) from ${sql.raw(`w${i}`)})`, i)} as ${sql.raw(`c${i}`)}`,
        ),
      )
    : sql`1 as done`;
  return { statement: sql<Record<string, number>>`with ${sql.join(ctes)} select ${checks}`, checked };
}

/** The batch as one statement whose row counts are checked in SQL, sent with the COMMIT. */
function flushAtCommit(em: EntityManager, writes: Write[], hot: boolean): Promise<void> {
  const statement =
    writes.length === 1 && !writes[0]!.expect
      ? writes[0]!.statement
      : asOneStatement(
          writes,
          (touched, i) =>
            sql`shop_expect_rows(${touched}, ${writes[i]!.expect!.rows}::int, ${`c${i}`}::text)`,
        ).statement;
  return runAtCommit(em, hot ? preparedStatement(statement) : statement, {
    translate: async (error) => {
      const { code, detail } = error as { code?: string; detail?: string };
      const expected = code === ROWS_NOT_AS_EXPECTED ? writes[Number(detail?.slice(1))]?.expect : undefined;
      return expected ? await expected.mismatch() : (error as Error);
    },
  });
}
