import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import type { PlaceOrderCommand } from '../../src/messaging/messages';
import { commandOrder, notifyOrder } from '../../src/orders/order-commands';
import { businessDay, ensureOrderSequence } from '../../src/orders/order-number';
import { loadOrderView } from '../../src/orders/order-view';
import { placeOrders } from '../../src/orders/placement-batch';
import { createProduct, inventoryOf } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { statementKind } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// The placement batch's and the checkout's hot statements run as named prepared statements
// (src/db/prepared-statements.ts).
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
  ...buyerCommand(buyer),
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

  it('prepares the checkout’s order statements once and runs them again by name: view, PAY, PAYMENT_SUCCEEDED', async () => {
    const productId = await createProduct(shop, seller);
    const now = new Date();
    const day = businessDay(now, shop.config.timezone);
    await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
    const checkouts = 3;
    const statements = await shop.ctx.orm.em.fork().transactional(async (tx) => {
      for (let i = 0; i < checkouts; i++) {
        const [decision] = await placeOrders(tx, shop.config, [placement(productId)], now, day);
        if (decision?.kind !== 'placed') throw new Error('not placed');
        const orderId = decision.result.answer.id;
        const pay = { ...placement(productId), orderId, method: 'CARD' as const };
        const paymentId = (await commandOrder(tx, 'PAY', pay, new Date())).answer.id;
        const order = await loadOrderView(tx, orderId);
        const event = { type: 'PAYMENT_SUCCEEDED', paymentId, amount: order!.total } as never;
        await notifyOrder(tx, orderId, event, `paid-${paymentId}`, new Date());
        expect((await loadOrderView(tx, orderId))?.status).toBe('PAID');
      }
      return query<PreparedRow>(
        tx,
        sql`select name, statement, (generic_plans + custom_plans)::int as executions from pg_prepared_statements
            where statement not like 'with locked as%' and statement not like 'with w0 as (insert into orders%'
              and statement not like 'select id, role, token_version from users%'
            order by statement`,
      );
    });
    const kinds = statements.map((s) => [statementKind(s.statement), s.executions]);
    expect(kinds).toEqual([
      // the view: read twice per checkout
      ['select orders', 2 * checkouts],
      // PAY: the order's load, then its batch
      ['select orders', checkouts],
      // PAYMENT_SUCCEEDED: its stock commit (lines read, rows locked and changed)
      ['update inventory', checkouts],
      // PAYMENT_SUCCEEDED: recorded and the order loaded
      ['insert processed_messages + select orders', checkouts],
      // PAY's batch, then PAYMENT_SUCCEEDED's
      [
        'batch(insert payments, update orders, insert order_transitions, insert outbox_events, insert commands)',
        checkouts,
      ],
      ['batch(update payments, update orders, insert order_transitions, insert outbox_events)', checkouts],
    ]);
    for (const s of statements) expect(s.name).toMatch(/^hot_[0-9a-f]{16}$/);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 100 - checkouts, reserved: 0 });
  });
});
