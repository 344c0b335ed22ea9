import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Migration20261206213000_order_auto_confirm_at as AutoConfirmAt } from '../../src/db/migrations/Migration20261206213000_order_auto_confirm_at';
import { query, run, sql } from '../../src/db/sql';
import { dueOrdersQuery } from '../../src/orders/order-sweep';
import { createFixtureProduct, payFixtureOrder, placeFixtureOrder } from '../support/order-fixtures';
import { createTestShop, type TestShop } from '../support/test-shop';

/**
 * Orders paid before `auto_confirm_at` existed get it from the migration's backfill: the same instant
 * the projection gives an order paid now (paid_at + the machine's autoConfirmMs from its snapshot), so
 * the sweep finds an old paid order when it is due, not never.
 */

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none' });
});
afterAll(async () => {
  await shop?.close();
});

describe('the auto_confirm_at backfill', () => {
  it('gives a PAID order from before the column the instant its projection gives, and the sweep finds it', async () => {
    const buyer = await shop.createUser('BUYER');
    const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
    const paid = await placeFixtureOrder(shop, buyer, product);
    await payFixtureOrder(shop, buyer, paid);
    const pending = await placeFixtureOrder(shop, buyer, product);
    const em = () => shop.ctx.orm.em.fork();
    const column = async (id: string) =>
      (
        await query<{ at: string | null }>(
          em(),
          sql`select auto_confirm_at::text as at from orders where id = ${id}`,
        )
      )[0]!.at;
    const projected = await column(paid);
    expect(projected).not.toBeNull();
    expect(await column(pending)).toBeNull();

    // As before the migration: no column value, and a payment long ago.
    await run(
      em(),
      sql`update orders set auto_confirm_at = null, paid_at = paid_at - interval '30 days' where id = ${paid}`,
    );
    const migration = new AutoConfirmAt(shop.ctx.orm.em.getDriver(), shop.ctx.orm.config);
    await migration.up();
    const backfill = migration.getQueries().find((q) => String(q).startsWith('update'));
    await run(em(), sql.raw(String(backfill)));

    const [row] = await query<{ expected: string }>(
      em(),
      sql`select (${projected}::timestamptz - interval '30 days')::text as expected`,
    );
    expect(await column(paid)).toBe(row!.expected);
    expect(await column(pending)).toBeNull();
    expect((await query(em(), dueOrdersQuery('autoConfirmDelay', 10))).map((r) => r.id)).toEqual([paid]);
  });
});
