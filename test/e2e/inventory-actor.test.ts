import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let admin: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'order,inventory' });
  seller = await shop.createUser('SELLER');
  admin = await shop.createUser('ADMIN');
});
afterAll(() => shop?.close());

const adjust = (user: TestUser, productId: string, body: unknown) =>
  shop.request('POST', `/api/v1/inventory/${productId}/adjust`, { token: user.token, body });

describe('stock corrections through the inventory mailbox', () => {
  it('lets an admin correct stock up or down, with a reason', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    expect((await adjust(admin, productId, { delta: -4, reason: 'water damage' })).body.data).toMatchObject({
      stock: 6,
      available: 6,
    });
    expect((await adjust(admin, productId, { delta: 3, reason: 'recount' })).body.data.stock).toBe(9);
  });

  it('never takes units that pending orders hold', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const buyer = await shop.createUser('BUYER');
    await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 4 }] },
    });
    const res = await adjust(admin, productId, { delta: -2, reason: 'loss' });
    expect([res.status, res.body.error]).toEqual([400, 'VALIDATION_ERROR']);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 5, reserved: 4 });
    expect((await adjust(admin, productId, { delta: -1, reason: 'loss' })).body.data.stock).toBe(4);
  });

  it('is for admins only, and validates delta and reason', async () => {
    const productId = await createProduct(shop, seller);
    expect((await adjust(seller, productId, { delta: 1, reason: 'x' })).status).toBe(403);
    for (const body of [
      { delta: 0, reason: 'x' },
      { delta: 1 },
      { delta: 1.5, reason: 'x' },
      { delta: 1, reason: '' },
    ]) {
      expect((await adjust(admin, productId, body)).status).toBe(400);
    }
    expect((await adjust(admin, crypto.randomUUID(), { delta: 1, reason: 'x' })).status).toBe(404);
  });
});

describe('inventory reconciliation', () => {
  const drift = async () => {
    const res = await shop.request('GET', '/api/v1/admin/inventory/drift', { token: admin.token });
    expect(res.status).toBe(200);
    return res.body.data as { productId: string; reserved: number; heldByPendingOrders: number }[];
  };

  it('finds no drift when every reservation belongs to a PENDING order', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const buyer = await shop.createUser('BUYER');
    for (const quantity of [2, 3]) {
      const placed = await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity }] },
      });
      expect(placed.status).toBe(201);
    }
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 5 });
    expect((await drift()).filter((d) => d.productId === productId)).toEqual([]);
  });

  it('reports a product whose reserved units no pending order explains', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    await run(shop.ctx.orm.em.fork(), sql`update inventory set reserved = 3 where product_id = ${productId}`);
    try {
      expect((await drift()).filter((d) => d.productId === productId)).toEqual([
        { productId, reserved: 3, heldByPendingOrders: 0 },
      ]);
      expect(
        (await shop.request('GET', '/api/v1/admin/inventory/drift', { token: seller.token })).status,
      ).toBe(403);
    } finally {
      await run(
        shop.ctx.orm.em.fork(),
        sql`update inventory set reserved = 0 where product_id = ${productId}`,
      );
    }
  });
});
