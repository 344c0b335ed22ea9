import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct } from '../support/catalog';
import { databaseUrl } from '../support/databases';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

/**
 * A transaction left open — a step awaiting something that never answers — must not hold its row
 * locks and its pool slot for good: PostgreSQL ends its session after
 * DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS, and the pool replaces the connection.
 */
let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'none',
    DATABASE_POOL_SIZE: '1',
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '500',
  });
});
afterAll(() => shop?.close());

describe('a transaction left idle', () => {
  it('loses its session, so its row lock is freed and its pool slot serves the next query', async () => {
    const productId = await createProduct(shop, await shop.createUser('SELLER'), { stock: 5 });

    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let leakedPid = 0;
    const leaked = shop.ctx.orm.em.fork().transactional(async (tx) => {
      const [row] = await query<{ pid: number }>(
        tx,
        sql`select pg_backend_pid() as pid from inventory where product_id = ${productId} for update`,
      );
      leakedPid = row!.pid;
      await stuck; // the step that never answers
    });
    await eventually(async () => leakedPid > 0 || undefined, 10_000);

    // Another session waits for the stock row's lock, as the next placement would.
    const other = new pg.Client({ connectionString: databaseUrl(shop.databaseName) });
    await other.connect();
    try {
      const locked = await other.query(`select stock from inventory where product_id = $1 for update`, [
        productId,
      ]);
      expect(locked.rows[0].stock).toBe(5);
      const sessions = await other.query(`select 1 from pg_stat_activity where pid = $1`, [leakedPid]);
      expect(sessions.rowCount).toBe(0);
    } finally {
      await other.end();
    }

    // The only connection of the pool (DATABASE_POOL_SIZE=1) was the leaked one: a query now needs it back.
    const [fresh] = await query<{ one: number }>(shop.ctx.orm.em.fork(), sql`select 1 as one`);
    expect(fresh!.one).toBe(1);

    release();
    await expect(leaked).rejects.toThrow();
  });
});
