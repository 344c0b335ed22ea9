import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import type { PlaceOrderCommand } from '../../src/messaging/messages';
import { commandOrder } from '../../src/orders/order-commands';
import { businessDay, ensureOrderSequence } from '../../src/orders/order-number';
import { placeOrder } from '../../src/orders/place-order';
import { placeOrders } from '../../src/orders/placement-batch';
import { createProduct, inventoryOf } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { statementKind, statementsDuring } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// SPEC §9: each command's number of SQL statements is asserted, so an N+1 regression fails CI.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

const command = (overrides: Partial<PlaceOrderCommand>): PlaceOrderCommand => ({
  ...buyerCommand(buyer),
  ...overrides,
});

/** Runs PLACE exactly as the order worker does, and returns the statements of its transaction. */
async function placementStatements(cmd: PlaceOrderCommand) {
  const now = new Date();
  const day = businessDay(now, shop.config.timezone);
  await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
  let orderId = '';
  const statements = await statementsDuring(shop.databaseName, () =>
    shop.ctx.orm.em.fork().transactional(async (tx) => {
      orderId = (await placeOrder(tx, shop.config, cmd, now, day)).answer.id;
    }),
  );
  return { orderId, kinds: statements.map(kindOf) };
}

const kindOf = statementKind;

describe('statements per order command', () => {
  it('PLACE with one line: 4 statements — products and number read together, every write in one batch', async () => {
    const productId = await createProduct(shop, seller);
    const { kinds } = await placementStatements(command({ items: [{ productId, quantity: 1 }] }));
    expect(kinds).toEqual([
      'begin',
      'select products + nextval',
      'batch(insert orders, insert order_items, insert order_transitions, insert outbox_events, insert commands, update inventory)',
      'commit',
    ]);
  });

  it('a batch of 8 placements (group commit): 4 statements in all — one write per table, one stock update per product', async () => {
    const [a, b] = await Promise.all([createProduct(shop, seller), createProduct(shop, seller)]);
    const commands = Array.from({ length: 8 }, (_, i) =>
      command({ items: [{ productId: i % 2 ? a : b, quantity: 1 }] }),
    );
    const now = new Date();
    const day = businessDay(now, shop.config.timezone);
    await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
    let placed = 0;
    const statements = await statementsDuring(shop.databaseName, () =>
      shop.ctx.orm.em.fork().transactional(async (tx) => {
        const decisions = await placeOrders(tx, shop.config, commands, now, day);
        placed = decisions.filter((d) => d.kind === 'placed').length;
      }),
    );
    expect(placed).toBe(8);
    expect(statements.map(kindOf)).toEqual([
      'begin',
      'lock inventory + nextval',
      'batch(insert orders, insert order_items, insert order_transitions, insert outbox_events, insert commands, update inventory)',
      'commit',
    ]);
    expect(await inventoryOf(shop, a)).toMatchObject({ reserved: 4 });
    expect(await inventoryOf(shop, b)).toMatchObject({ reserved: 4 });
  });

  it("a batch member's outbox rows continue its own trace, not the batch's", async () => {
    const productId = await createProduct(shop, seller);
    const commands = [0, 1].map(() => command({ items: [{ productId, quantity: 1 }] }));
    const traces = ['trace-of-first', 'trace-of-second'];
    const now = new Date();
    const day = businessDay(now, shop.config.timezone);
    await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
    const decisions = await shop.ctx.orm.em
      .fork()
      .transactional((tx) => placeOrders(tx, shop.config, commands, now, day, traces));
    for (const [i, decision] of decisions.entries()) {
      if (decision.kind !== 'placed') throw new Error(`member ${i} was not placed`);
      const rows = await query<{ trace_context: string }>(
        shop.ctx.orm.em.fork(),
        sql`select trace_context from outbox_events where aggregate_id = ${decision.result.answer.id}`,
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.trace_context))).toEqual(new Set([traces[i]]));
    }
  });

  it('PLACE with five lines: the same count plus one row-lock statement (no N+1)', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => createProduct(shop, seller)));
    const { kinds } = await placementStatements(
      command({ items: ids.map((productId) => ({ productId, quantity: 1 })) }),
    );
    // The rows in one batch, then the stock rows locked in product-id order and updated last.
    expect(kinds).toHaveLength(6);
    expect(kinds.slice(-3)).toEqual(['select inventory', 'update inventory', 'commit']);
  });

  it('PLACE from the cart: reads and removes the cart lines in two more statements', async () => {
    const productId = await createProduct(shop, seller);
    await shop.request('POST', '/api/v1/cart/items', {
      token: buyer.token,
      body: { productId, quantity: 2 },
    });
    const { kinds } = await placementStatements(command({ fromCart: true }));
    expect(kinds).toHaveLength(6);
    expect(kinds).toContain('select cart_items');
    expect(kinds).toContain('delete cart_items');
  });

  it('GET /orders/{id}: the order, its payment and its items (in name order) in one statement', async () => {
    const ids = await Promise.all(
      ['b-scarf', 'a-cap', 'c-boots'].map((name) => createProduct(shop, seller, { name, price: 1_000 })),
    );
    const { orderId } = await placementStatements(
      command({ items: ids.map((productId, i) => ({ productId, quantity: i + 1 })) }),
    );
    let body: { data: { items: { name: string; quantity: number; lineTotal: number }[] } } | undefined;
    const statements = await statementsDuring(shop.databaseName, async () => {
      body = (await shop.request('GET', `/api/v1/orders/${orderId}`, { token: buyer.token })).body;
    });
    expect(statements.map(kindOf)).toEqual(['select orders']);
    expect(body!.data.items.map((i) => [i.name, i.quantity, i.lineTotal])).toEqual([
      ['a-cap', 2, 2_000],
      ['b-scarf', 1, 1_000],
      ['c-boots', 3, 3_000],
    ]);
  });

  it('GET /orders: three statements whatever the page holds (ids, count, views) — no read per order', async () => {
    const lister = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { price: 1_000 });
    const listStatements = async () => {
      let listed = 0;
      const statements = await statementsDuring(shop.databaseName, async () => {
        listed = (await shop.request('GET', '/api/v1/orders?size=20', { token: lister.token })).body.data
          .length;
      });
      return { listed, count: statements.length };
    };
    await placementStatements(command({ ...buyerCommand(lister), items: [{ productId, quantity: 1 }] }));
    await listStatements(); // the caller's standing is read once, then cached
    expect(await listStatements()).toEqual({ listed: 1, count: 3 });
    for (let i = 0; i < 5; i++)
      await placementStatements(command({ ...buyerCommand(lister), items: [{ productId, quantity: 1 }] }));
    expect(await listStatements()).toEqual({ listed: 6, count: 3 });
  });

  it('CANCEL of a PENDING order: load, one batch (save, history, outbox, receipt), then the stock in one statement', async () => {
    const productId = await createProduct(shop, seller);
    const { orderId } = await placementStatements(command({ items: [{ productId, quantity: 1 }] }));
    const cancel = { ...command({}), orderId };
    const statements = await statementsDuring(shop.databaseName, () =>
      shop.ctx.orm.em.fork().transactional((tx) => commandOrder(tx, 'CANCEL', cancel, new Date())),
    );
    expect(statements.map(kindOf)).toEqual([
      'begin',
      'select orders',
      'batch(update orders, insert order_transitions, insert outbox_events, insert commands)',
      // the order's lines read, their stock rows locked in product-id order and released: one statement
      'update inventory',
      'commit',
    ]);
  });
});
