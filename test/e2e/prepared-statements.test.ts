import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import type { PlaceOrderCommand } from '../../src/messaging/messages';
import { businessDay, ensureOrderSequence } from '../../src/orders/order-number';
import { placeOrders } from '../../src/orders/placement-batch';
import { createProduct, inventoryOf } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// The placement batch's hot statements run as named prepared statements (src/db/prepared-statements.ts).
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

const placement = (productId: string): PlaceOrderCommand => ({
  commandId: uuidv7(),
  userId: buyer.id,
  role: 'BUYER',
  idempotencyKey: null,
  requestHash: null,
  items: [{ productId, quantity: 1 }],
});

interface PreparedRow {
  name: string;
  statement: string;
  executions: number;
}

describe('named prepared statements', () => {
  it('prepares the placement lock and write once per connection and runs them again by name', async () => {
    const productId = await createProduct(shop, seller);
    const now = new Date();
    const day = businessDay(now, shop.config.timezone);
    await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
    const { placed, statements } = await shop.ctx.orm.em.fork().transactional(async (tx) => {
      let placed = 0;
      for (let batch = 0; batch < 3; batch++) {
        const decisions = await placeOrders(
          tx,
          shop.config,
          [placement(productId), placement(productId)],
          now,
          day,
        );
        placed += decisions.filter((d) => d.kind === 'placed').length;
      }
      // pg_prepared_statements lists this session's statements: the transaction's one connection.
      const statements = await query<PreparedRow>(
        tx,
        sql`select name, statement, (generic_plans + custom_plans)::int as executions from pg_prepared_statements
            where statement like 'with locked as%' or statement like 'with w0 as%' order by statement`,
      );
      return { placed, statements };
    });
    expect(placed).toBe(6);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 6 });
    expect(statements.map((s) => s.statement.slice(0, 14))).toEqual(['with locked as', 'with w0 as (in']);
    for (const s of statements) {
      expect(s.name).toMatch(/^hot_[0-9a-f]{16}$/);
      expect(s.executions).toBe(3);
    }
  });
});
