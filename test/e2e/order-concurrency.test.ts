import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInventoryDrift } from '../../src/catalog/inventory-actor';
import { query, sql } from '../../src/db/sql';
import { commandOrder } from '../../src/orders/order-commands';
import { createProduct, inventoryOf } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

const place = (user: TestUser, items: { productId: string; quantity: number }[]) =>
  shop.request('POST', '/api/v1/orders', { token: user.token, body: { items } });

describe('inventory under concurrent placement', () => {
  it('100 buyers racing for 20 units: exactly 20 orders, reserved = 20, the rest 409', async () => {
    const productId = await createProduct(shop, seller, { stock: 20 });
    const buyers = await Promise.all(Array.from({ length: 100 }, () => shop.createUser('BUYER')));
    const answers = await Promise.all(buyers.map((b) => place(b, [{ productId, quantity: 1 }])));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(80);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error === 'OUT_OF_STOCK')).toBe(true);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 20, reserved: 20, available: 0 });
    const [orders] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(distinct order_id)::int as n from order_items where product_id = ${productId}`,
    );
    expect(orders!.n).toBe(20);
  });

  it('multi-line orders naming the same products in opposite order neither deadlock nor oversell', async () => {
    const a = await createProduct(shop, seller, { stock: 30 });
    const b = await createProduct(shop, seller, { stock: 30 });
    const buyers = await Promise.all(Array.from({ length: 40 }, () => shop.createUser('BUYER')));
    const answers = await Promise.all(
      buyers.map((buyer, i) =>
        place(
          buyer,
          i % 2 === 0
            ? [
                { productId: a, quantity: 1 },
                { productId: b, quantity: 1 },
              ]
            : [
                { productId: b, quantity: 1 },
                { productId: a, quantity: 1 },
              ],
        ),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(30).fill(201), ...Array(10).fill(409)]);
    expect(await inventoryOf(shop, a)).toMatchObject({ reserved: 30 });
    expect(await inventoryOf(shop, b)).toMatchObject({ reserved: 30 });
  });

  it('after racing placements and cancellations, reserved = Σ quantities of PENDING orders', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const buyers = await Promise.all(Array.from({ length: 15 }, () => shop.createUser('BUYER')));
    const answers = await Promise.all(buyers.map((b) => place(b, [{ productId, quantity: 1 }])));
    const placed = buyers.flatMap((buyer, i) =>
      answers[i]!.status === 201 ? [{ buyer, id: answers[i]!.body.data.id as string }] : [],
    );
    expect(placed).toHaveLength(10);
    const cancels = await Promise.all(
      placed
        .slice(0, 4)
        .map(({ buyer, id }) => shop.request('POST', `/api/v1/orders/${id}/cancel`, { token: buyer.token })),
    );
    expect(cancels.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 6 });
    const drift = await findInventoryDrift(shop.ctx.orm.em.fork());
    expect(drift.filter((d) => d.productId === productId)).toEqual([]);
  });
});

describe('stock released by many multi-line orders at once', () => {
  it('concurrent CANCELs of orders naming the same products in opposite order: no deadlock, every unit back', async () => {
    const a = await createProduct(shop, seller, { stock: 50 });
    const b = await createProduct(shop, seller, { stock: 50 });
    const buyers = await Promise.all(Array.from({ length: 16 }, () => shop.createUser('BUYER')));
    const lines = (first: string, second: string) => [
      { productId: first, quantity: 1 },
      { productId: second, quantity: 2 },
    ];
    const placed = await Promise.all(
      buyers.map((buyer, i) => place(buyer, i % 2 === 0 ? lines(a, b) : lines(b, a))),
    );
    expect(placed.map((r) => r.status)).toEqual(Array(16).fill(201));
    // Each CANCEL in its own transaction, all at once: each locks its order's stock rows and releases them.
    const cancel = (buyer: TestUser, orderId: string) =>
      shop.ctx.orm.em
        .fork()
        .transactional((tx) => commandOrder(tx, 'CANCEL', { ...buyerCommand(buyer), orderId }, new Date()));
    const outcomes = await Promise.allSettled(placed.map((r, i) => cancel(buyers[i]!, r.body.data.id)));
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(await inventoryOf(shop, a)).toMatchObject({ stock: 50, reserved: 0 });
    expect(await inventoryOf(shop, b)).toMatchObject({ stock: 50, reserved: 0 });
  });
});

describe('cancellations racing each other', () => {
  it('ten concurrent cancels of one order: one 200, the rest 400, stock released once', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const buyer = await shop.createUser('BUYER');
    const id = (await place(buyer, [{ productId, quantity: 5 }])).body.data.id;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        shop.request('POST', `/api/v1/orders/${id}/cancel`, { token: buyer.token }),
      ),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(
      answers.filter((r) => r.status === 400 && r.body.error === 'ORDER_ALREADY_CANCELLED'),
    ).toHaveLength(9);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0, stock: 5 });
    const history = await shop.request('GET', `/api/v1/orders/${id}/history`, { token: buyer.token });
    expect(history.body.data).toHaveLength(2);
  });
});
