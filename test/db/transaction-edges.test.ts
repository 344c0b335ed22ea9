import type { Pool, PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrm, type EntityManager, type Orm } from '../../src/db/orm';
import { preparedStatement, query, sql } from '../../src/db/sql';
import { atCommit } from '../../src/db/transaction-edges';
import { WriteBatch } from '../../src/db/write-batch';
import { createTestDatabase, databaseUrl, dropTestDatabase } from '../support/databases';

/**
 * A transaction's BEGIN goes out with its first statement, and its COMMIT with a last write that waits
 * for it (src/db/transaction-edges.ts). Round trips are counted as PostgreSQL's ReadyForQuery messages
 * on the one connection of a one-connection pool: the server sends one per exchange. The work runs on
 * a temporary table of that session, in a database of this file's.
 */
describe('a transaction’s BEGIN and COMMIT sent with its statements', () => {
  let name: string;
  let orm: Orm;
  let plain: Orm;
  let pool: Pool;

  beforeAll(async () => {
    name = await createTestDatabase(inject('templateDatabase'));
    orm = await createOrm(databaseUrl(name), 1);
    plain = await createOrm(databaseUrl(name), 1, { pipelineTransactionEdges: false });
    pool = (await orm.em.getConnection().getNativeClient()) as Pool;
    for (const o of [orm, plain])
      await o.em
        .getConnection()
        .execute('create temp table held (n int primary key); insert into held values (-100)');
  });

  afterAll(async () => {
    await orm?.close();
    await plain?.close();
    if (name) await dropTestDatabase(name);
  });

  /** Exchanges with the server while `work` runs, on the pool's one connection. */
  async function exchanges(of: Orm, work: () => Promise<unknown>): Promise<number> {
    const ofPool = (await of.em.getConnection().getNativeClient()) as Pool;
    const client = await ofPool.connect();
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    client.release();
    let count = 0;
    const onReady = () => count++;
    connection.on('readyForQuery', onReady);
    try {
      await work();
    } finally {
      connection.off('readyForQuery', onReady);
    }
    return count;
  }

  const inTransaction = (of: Orm, work: (tx: EntityManager) => Promise<unknown>) =>
    of.em.fork().transactional(work);
  const count = async (of: Orm) =>
    (await query<{ n: number }>(of.em.fork(), sql`select count(*)::int as n from held`))[0]!.n;
  /** True when the session runs the statement outside a transaction block it opened before. */
  const autocommit = async (of: Orm) =>
    (await query<{ own: boolean }>(of.em.fork(), sql`select now() = statement_timestamp() as own`))[0]!.own;

  it('costs one exchange fewer per transaction, with the same results', async () => {
    const work = (of: Orm) => () =>
      inTransaction(of, async (tx) => {
        await query(tx, sql`insert into held (n) values (${Math.floor(Math.random() * 1e9)})`);
        const [row] = await query<{ tx: string }>(tx, sql`select txid_current()::text as tx`);
        return row!.tx;
      });
    // BEGIN + first statement, second statement, COMMIT; against BEGIN, two statements, COMMIT.
    expect(await exchanges(orm, work(orm))).toBe(3);
    expect(await exchanges(plain, work(plain))).toBe(4);
  });

  it('runs the first statement inside the transaction: a rollback takes its write back', async () => {
    const before = await count(orm);
    await expect(
      inTransaction(orm, async (tx) => {
        await query(tx, sql`insert into held (n) values (-1)`);
        expect(await query(tx, sql`select 1 from held where n = -1`)).toHaveLength(1);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await count(orm)).toBe(before);
    expect(await autocommit(orm)).toBe(true);
  });

  it('answers a failing first statement with its own error and leaves the connection out of any transaction', async () => {
    await query(orm.em.fork(), sql`insert into held (n) values (-2)`);
    await expect(
      inTransaction(orm, (tx) => query(tx, sql`insert into held (n) values (-2)`)),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await autocommit(orm)).toBe(true);
    await inTransaction(orm, (tx) => query(tx, sql`insert into held (n) values (-3)`));
    expect(await query(orm.em.fork(), sql`select n from held where n in (-2, -3) order by n`)).toEqual([
      { n: -3 },
      { n: -2 },
    ]);
  });

  it('sends nothing for a transaction that runs no statement', async () => {
    expect(await exchanges(orm, () => inTransaction(orm, async () => undefined))).toBe(0);
  });

  it('lets a hot statement ride with BEGIN once it is prepared on the connection', async () => {
    const hot = (n: number) => preparedStatement(sql<{ n: number }>`select ${n}::int + 0 as n`);
    const once = (n: number) => inTransaction(orm, (tx) => query(tx, hot(n)));
    // The first time it is parsed on its own, after a BEGIN of its own; then it rides with BEGIN.
    expect(await exchanges(orm, () => once(1))).toBe(3);
    expect(await exchanges(orm, () => once(2))).toBe(2);
    expect(await once(3)).toEqual([{ n: 3 }]);
  });

  it('sends BEGIN first, on its own, before a statement in another form (a callback)', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin', []);
      await new Promise<void>((resolve, reject) =>
        client.query('insert into held (n) values (-4)', [], (error: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      );
      await client.query('rollback', []);
    } finally {
      client.release();
    }
    expect(await query(orm.em.fork(), sql`select n from held where n = -4`)).toEqual([]);
  });

  it('forgets a BEGIN still held when its client goes back to the pool', async () => {
    const first: PoolClient = await pool.connect();
    await first.query('begin', []);
    first.release(); // a holder that never ended its transaction
    const second = await pool.connect();
    try {
      expect(second).toBe(first); // the pool's one connection
      await second.query('insert into held (n) values (-5)', []);
    } finally {
      second.release();
    }
    expect(await autocommit(orm)).toBe(true);
    expect(await query(orm.em.fork(), sql`select n from held where n = -5`)).toEqual([{ n: -5 }]);
  });

  /** A step's last write: a row into `held`, and an update of the marker row -100 that must touch `expected` rows. */
  const lastWrite = (tx: EntityManager, n: number, expected: number) => {
    const writes = new WriteBatch();
    writes.add(sql`insert into held (n) values (${n})`);
    writes.addExpecting(sql`update held set n = n where n = -100`, expected, () => new Mismatch());
    return writes.flush(tx, { atCommit: true });
  };
  class Mismatch extends Error {}
  const present = async (n: number) =>
    (await query(orm.em.fork(), sql`select 1 from held where n = ${n}`)).length === 1;

  it('sends a last write with the COMMIT: one exchange fewer again, and the write is committed', async () => {
    const transaction = (of: Orm, n: number) => () =>
      inTransaction(of, async (tx) => {
        await query(tx, sql`select count(*) from held where n > ${-1000}`);
        await lastWrite(tx, n, 1);
      });
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    // BEGIN + read, write + COMMIT; against BEGIN, read, write, COMMIT.
    expect(await exchanges(orm, transaction(orm, 1000))).toBe(2);
    expect(await present(1000)).toBe(true);
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    expect(await exchanges(plain, transaction(plain, 1001))).toBe(4);
    // The only statement of its transaction: BEGIN, the write and COMMIT in one exchange.
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    expect(await exchanges(orm, () => inTransaction(orm, (tx) => lastWrite(tx, 1002, 1)))).toBe(1);
    expect(await present(1002)).toBe(true);
    expect(await autocommit(orm)).toBe(true);
  });

  it('fails the COMMIT with the caller’s error when the write touched other rows than expected, and keeps nothing', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    for (const of of [orm, plain]) {
      await expect(inTransaction(of, (tx) => lastWrite(tx, 1100, 2))).rejects.toBeInstanceOf(Mismatch);
      expect(await present(1100)).toBe(false);
      expect(await autocommit(of)).toBe(true);
    }
  });

  it('fails the COMMIT with the write’s own error (a duplicate key), and the connection goes on', async () => {
    await query(orm.em.fork(), sql`insert into held (n) values (-6)`);
    await expect(
      inTransaction(orm, async (tx) => {
        await query(tx, sql`insert into held (n) values (-7)`);
        const writes = new WriteBatch();
        writes.add(sql`insert into held (n) values (-6)`);
        await writes.flush(tx, { atCommit: true });
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await present(-7)).toBe(false);
    expect(await autocommit(orm)).toBe(true);
  });

  it('sends the waiting write first when another statement follows it, with the write’s error as that statement’s', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    const seen = await inTransaction(orm, async (tx) => {
      await lastWrite(tx, 1200, 1);
      return query<{ n: number }>(tx, sql`select n from held where n = 1200`);
    });
    expect(seen).toEqual([{ n: 1200 }]);
    expect(await present(1200)).toBe(true);
    await expect(
      inTransaction(orm, async (tx) => {
        await lastWrite(tx, 1201, 5);
        await query(tx, sql`select 1`);
      }),
    ).rejects.toBeInstanceOf(Mismatch);
    expect(await present(1201)).toBe(false);
  });

  it('drops a waiting write unsent when the transaction rolls back', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    await expect(
      inTransaction(orm, async (tx) => {
        await query(tx, sql`select 1`);
        await lastWrite(tx, 1300, 1);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await present(1300)).toBe(false);
    expect(await autocommit(orm)).toBe(true);
  });

  it('runs a last write outside a transaction as any statement, its checks still in SQL', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    await expect(lastWrite(orm.em.fork(), 1400, 3)).rejects.toBeInstanceOf(Mismatch);
    expect(await present(1400)).toBe(false);
    await lastWrite(orm.em.fork(), 1401, 1);
    expect(await present(1401)).toBe(true);
  });

  it('sends a hot (named) last write with the COMMIT once it is prepared on the connection', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    const hotWrite = (n: number) => () =>
      inTransaction(orm, async (tx) => {
        await query(tx, sql`select count(*) from held where n > ${-1000}`);
        const writes = new WriteBatch();
        writes.add(sql`insert into held (n) values (${n})`);
        writes.addExpecting(sql`update held set n = n where n = -100`, 1, () => new Mismatch());
        await writes.flush(tx, { hot: true, atCommit: true });
      });
    // The first time it is prepared in an exchange of its own; then it rides with the COMMIT.
    expect(await exchanges(orm, hotWrite(1500))).toBe(3);
    expect(await exchanges(orm, hotWrite(1501))).toBe(2);
    expect((await Promise.all([1500, 1501].map(present))).every(Boolean)).toBe(true);
  });

  it('commits two last writes of one transaction, the first sent before the second', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    await inTransaction(orm, async (tx) => {
      await lastWrite(tx, 1600, 1);
      await lastWrite(tx, 1601, 1);
    });
    expect(await present(1600)).toBe(true);
    expect(await present(1601)).toBe(true);
    await expect(
      inTransaction(orm, async (tx) => {
        await lastWrite(tx, 1602, 2);
        await lastWrite(tx, 1603, 1);
      }),
    ).rejects.toBeInstanceOf(Mismatch);
    expect(await present(1602)).toBe(false);
    expect(await present(1603)).toBe(false);
  });

  it('sends a waiting write before a statement in another form (a callback), and fails the COMMIT with its error', async () => {
    await query(orm.em.fork(), sql`delete from held where n between 1000 and 1999`);
    const client = await pool.connect();
    const answers: string[] = [];
    try {
      for (const [n, expected] of [
        [1700, 1],
        [1701, 2],
      ] as const) {
        await client.query('begin', []);
        // A last write as WriteBatch marks it, sent by hand on the pool's client.
        const compiled =
          sql`with w0 as (insert into held (n) values (${n})), w1 as (update held set n = n where n = -100 returning 1)
          select shop_expect_rows((select count(*) from w1), ${expected}::int, 'c1'::text) as c1`.compile(
            orm.em.getKysely(),
          );
        atCommit(compiled.parameters as unknown[], { translate: () => new Mismatch() });
        await client.query(compiled.sql, compiled.parameters as unknown[]);
        await new Promise<void>((resolve) =>
          client.query('select 1 as one', [], (error: Error | null) => {
            answers.push(error ? 'failed' : 'answered');
            resolve();
          }),
        );
        const committed = await client.query('commit', []).then(
          () => 'committed',
          (error: unknown) => (error instanceof Mismatch ? 'mismatch' : String(error)),
        );
        answers.push(committed);
        await client.query('rollback', []).catch(() => undefined);
      }
    } finally {
      client.release();
    }
    expect(answers).toEqual(['answered', 'committed', 'failed', 'mismatch']);
    expect(await present(1700)).toBe(true);
    expect(await present(1701)).toBe(false);
    expect(await autocommit(orm)).toBe(true);
  });

  it('keeps pg’s simple protocol for a first statement without values (several statements in one text)', async () => {
    await inTransaction(orm, (tx) =>
      tx
        .getConnection()
        .execute(
          'insert into held (n) values (-8); insert into held (n) values (-9)',
          [],
          'run',
          tx.getTransactionContext(),
        ),
    );
    expect(await present(-8)).toBe(true);
    expect(await present(-9)).toBe(true);
  });

  it('forgets a waiting write when its client goes back to the pool', async () => {
    const first = await pool.connect();
    await first.query('begin', []);
    const compiled = sql`insert into held (n) values (${-10})`.compile(orm.em.getKysely());
    atCommit(compiled.parameters as unknown[], { translate: (error) => error as Error });
    await first.query(compiled.sql, compiled.parameters as unknown[]);
    first.release(); // a holder that never ended its transaction
    expect(await autocommit(orm)).toBe(true);
    expect(await present(-10)).toBe(false);
  });
});
