import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockGateKeys } from '../../src/catalog/stock-gate';
import { rebuildStockGateAtStart } from '../../src/catalog/stock-gate-rebuild';
import { createProduct, inventoryOf } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// A short payment window in a shop of the expiry test's own, so the real timer expires its order. The
// gate is read between the placement's answer and the expiry: the window is twice the 5 s reply
// timeout, so no reply slow enough to still be a 201 lets it pass before that read.
const PAYMENT_WINDOW_MS = 10_000;

let shop: TestShop;
let seller: TestUser;
let admin: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  [seller, admin] = await Promise.all([shop.createUser('SELLER'), shop.createUser('ADMIN')]);
});
afterAll(() => shop?.close());

const place = (user: TestUser, productId: string, quantity = 1, on = shop) =>
  on.request('POST', '/api/v1/orders', { token: user.token, body: { items: [{ productId, quantity }] } });

const gateCounter = async (productId: string, on = shop) => {
  const value = await on.ctx.redis.hget(stockGateKeys(on.ctx).available, productId);
  return value === null ? null : Number(value);
};

async function until(what: string, probe: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('units come back to the stock gate', () => {
  it('a cancel, a restock and admin corrections follow PostgreSQL', async () => {
    const productId = await createProduct(shop, seller, { stock: 2 });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const first = await place(a!, productId);
    expect((await place(b!, productId)).status).toBe(201);
    expect(await gateCounter(productId)).toBe(0);
    expect((await place(c!, productId)).body.error).toBe('OUT_OF_STOCK');

    const cancelled = await shop.request('POST', `/api/v1/orders/${first.body.data.id}/cancel`, {
      token: a!.token,
    });
    expect(cancelled.status).toBe(200);
    expect(await gateCounter(productId)).toBe(1);
    const third = await place(c!, productId);
    expect(third.status).toBe(201);
    expect(await gateCounter(productId)).toBe(0);

    const restocked = await shop.request('POST', `/api/v1/inventory/${productId}/restock`, {
      token: seller.token,
      body: { quantity: 5 },
    });
    expect(restocked.status).toBe(200);
    expect(await gateCounter(productId)).toBe(5);

    const corrected = await shop.request('POST', `/api/v1/inventory/${productId}/adjust`, {
      token: admin.token,
      body: { delta: -3, reason: 'damaged in the warehouse' },
    });
    expect(corrected.status).toBe(200);
    expect(await gateCounter(productId)).toBe(2);
    const up = await shop.request('POST', `/api/v1/inventory/${productId}/adjust`, {
      token: admin.token,
      body: { delta: 1, reason: 'found one' },
    });
    expect(up.status).toBe(200);
    expect(await gateCounter(productId)).toBe(3);

    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 5, reserved: 2, available: 3 });
  });

  it('an order whose payment window passes gives its units back when it expires', async () => {
    const timed = await createTestShop({
      WORKERS: 'all',
      ORDER_PAYMENT_TIMEOUT_MS: String(PAYMENT_WINDOW_MS),
    });
    try {
      const owner = await timed.createUser('SELLER');
      const productId = await createProduct(timed, owner, { stock: 3 });
      const buyer = await timed.createUser('BUYER');
      expect((await place(buyer, productId, 3, timed)).status).toBe(201);
      expect(await gateCounter(productId, timed)).toBe(0);
      await until(
        'the expiry returns the units',
        async () => (await gateCounter(productId, timed)) === 3,
        PAYMENT_WINDOW_MS + 20_000,
      );
      expect(await inventoryOf(timed, productId)).toMatchObject({ stock: 3, reserved: 0, available: 3 });
    } finally {
      await timed.close();
    }
  }, 60_000);

  it('a product created, or stock the gate has never seen, is gated from PostgreSQL on first use', async () => {
    const productId = await createProduct(shop, seller, { stock: 4 });
    expect(await gateCounter(productId)).toBe(4);
    await shop.ctx.redis.hdel(stockGateKeys(shop.ctx).available, productId);
    const buyer = await shop.createUser('BUYER');
    expect((await place(buyer, productId, 1)).status).toBe(201);
    expect(await gateCounter(productId)).toBe(3);
  });

  it('a placement PostgreSQL refuses gives its take back', async () => {
    const productId = await createProduct(shop, seller, { stock: 1 });
    const [a, b] = await Promise.all([1, 2].map(() => shop.createUser('BUYER')));
    expect((await place(a!, productId)).status).toBe(201);
    expect(await gateCounter(productId)).toBe(0);
    // The gate believes in 2 units PostgreSQL does not have: it admits, PostgreSQL refuses.
    await shop.ctx.redis.hset(stockGateKeys(shop.ctx).available, productId, 2);
    const refused = await place(b!, productId);
    expect(refused.status).toBe(409);
    expect(refused.body.details[0]).toMatchObject({ productId, requested: 1, available: 0 });
    expect(await gateCounter(productId)).toBe(2);
    expect(await shop.ctx.redis.hlen(stockGateKeys(shop.ctx).takes)).toBe(0);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 1, reserved: 1 });
  });

  it('a product taken off sale loses its counter: its orders hear PRODUCT_NOT_AVAILABLE, not OUT_OF_STOCK', async () => {
    const productId = await createProduct(shop, seller, { stock: 1 });
    const [a, b] = await Promise.all([1, 2].map(() => shop.createUser('BUYER')));
    expect((await place(a!, productId)).status).toBe(201);
    expect(await gateCounter(productId)).toBe(0);
    const off = await shop.request('PATCH', `/api/v1/products/${productId}/status`, {
      token: seller.token,
      body: { status: 'DISCONTINUED' },
    });
    expect(off.status).toBe(200);
    expect(await gateCounter(productId)).toBeNull();
    const refused = await place(b!, productId);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('PRODUCT_NOT_AVAILABLE');
    expect(await gateCounter(productId)).toBeNull();
  });

  it("the inventory actor's scheduled reconciliation repairs a drifted counter by itself", async () => {
    const reconciling = await createTestShop({ WORKERS: 'all', STOCK_GATE_RECONCILE_INTERVAL_MS: '300' });
    try {
      const owner = await reconciling.createUser('SELLER');
      const productId = await createProduct(reconciling, owner, { stock: 6 });
      await reconciling.ctx.redis.hset(stockGateKeys(reconciling.ctx).available, productId, 1);
      await until(
        'the reconciliation repairs the counter',
        async () => (await gateCounter(productId, reconciling)) === 6,
      );
      const metrics = await reconciling.request('GET', '/metrics');
      expect(String(metrics.body)).toMatch(/shop_stock_gate_drift_repairs_total [1-9]/);
    } finally {
      await reconciling.close();
    }
  });

  it('at start-up the counters Redis lacks are built from PostgreSQL; live ones are kept', async () => {
    const lost = await createProduct(shop, seller, { stock: 7 });
    const live = await createProduct(shop, seller, { stock: 7 });
    const buyer = await shop.createUser('BUYER');
    expect((await place(buyer, lost, 2)).status).toBe(201);
    const keys = stockGateKeys(shop.ctx);
    await shop.ctx.redis.hdel(keys.available, lost);
    await shop.ctx.redis.hset(keys.available, live, 6); // as another process left it a moment ago
    await rebuildStockGateAtStart(shop.ctx);
    expect(await gateCounter(lost)).toBe(5);
    expect(await gateCounter(live)).toBe(6);
  });
});
