import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getCachedProductView,
  invalidateProducts,
  lookupCachedProduct,
  productCacheKeys,
  storeCachedProduct,
} from '../../src/catalog/product-cache';
import { loadProductViews } from '../../src/catalog/product-view';
import { query, sql } from '../../src/db/sql';
import { createRedis } from '../../src/messaging/redis';
import { statementsDuring as countStatements } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
let seller: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ PRODUCT_CACHE_TTL_S: '60', WORKERS: 'inventory' });
  seller = await shop.createUser('SELLER');
  // The inventory worker reconciles the stock gate once at start (then every minute): its statements
  // must be over before a test counts the statements of a read.
  await eventually(async () => {
    const counts = await shop.ctx.queues.inventory.getJobCounts('completed', 'failed');
    return (counts.completed ?? 0) + (counts.failed ?? 0) > 0 || undefined;
  }, 30_000);
});
afterAll(() => shop?.close());

async function createProduct(initialStock = 10) {
  const res = await shop.request('POST', '/api/v1/products', {
    token: seller.token,
    body: { name: 'Cached Lamp', price: 30_000, category: 'home', initialStock },
  });
  expect(res.status).toBe(201);
  return res.body.data as { id: string; stock: number; price: number };
}

const read = async (id: string) => {
  const res = await shop.request('GET', `/api/v1/products/${id}`);
  expect(res.status).toBe(200);
  return res.body.data;
};

const statementsDuring = (fn: () => Promise<unknown>) => countStatements(shop.databaseName, fn);

describe('a cached product read does not touch PostgreSQL', () => {
  it('reads the database on a miss and only Redis on the following hit', async () => {
    const product = await createProduct();
    let first: unknown;
    let second: unknown;
    expect(await statementsDuring(async () => (first = await read(product.id)))).toHaveLength(1);
    expect(await statementsDuring(async () => (second = await read(product.id)))).toHaveLength(0);
    expect(second).toEqual(first);
  });

  it('stores the entry with the configured TTL and keeps the generation without one', async () => {
    const product = await createProduct();
    await read(product.id);
    const ttl = await shop.ctx.redis.ttl(productCacheKeys(shop.ctx, product.id).entry);
    expect(ttl).toBeGreaterThan(55);
    expect(ttl).toBeLessThanOrEqual(60);
    await invalidateProducts(shop.ctx, [product.id]);
    expect(await shop.ctx.redis.ttl(productCacheKeys(shop.ctx, product.id).generation)).toBe(-1);
  });

  it('does not cache unknown ids', async () => {
    const id = crypto.randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await shop.request('GET', `/api/v1/products/${id}`);
      expect([res.status, res.body.error]).toEqual([404, 'PRODUCT_NOT_FOUND']);
    }
    expect(await shop.ctx.redis.exists(productCacheKeys(shop.ctx, id).entry)).toBe(0);
  });

  it('treats an unreadable entry as a miss', async () => {
    const product = await createProduct();
    await shop.ctx.redis.set(productCacheKeys(shop.ctx, product.id).entry, '{not json');
    expect((await read(product.id)).id).toBe(product.id);
    expect(await lookupCachedProduct(shop.ctx, product.id)).toMatchObject({ hit: true });
  });
});

describe('a read after a write never shows stale data', () => {
  it('shows the new stock after a restock', async () => {
    const product = await createProduct(10);
    expect((await read(product.id)).stock).toBe(10);
    const restock = await shop.request('POST', `/api/v1/inventory/${product.id}/restock`, {
      token: seller.token,
      body: { quantity: 5 },
    });
    expect(restock.status).toBe(200);
    expect(await read(product.id)).toMatchObject({ stock: 15, available: 15 });
  });

  it('shows the new price after a PATCH, and the new status after a status change', async () => {
    const product = await createProduct();
    expect((await read(product.id)).price).toBe(30_000);
    const patch = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
      token: seller.token,
      body: { price: 27_000 },
    });
    expect(patch.status).toBe(200);
    expect((await read(product.id)).price).toBe(27_000);
    await shop.request('PATCH', `/api/v1/products/${product.id}/status`, {
      token: seller.token,
      body: { status: 'SOLD_OUT' },
    });
    expect((await read(product.id)).status).toBe('SOLD_OUT');
  });

  it('shows a stock change made elsewhere once invalidateProducts runs after its commit', async () => {
    const [a, b] = [await createProduct(10), await createProduct(10)];
    await Promise.all([read(a.id), read(b.id)]);
    await query(
      shop.ctx.orm.em.fork(),
      sql`update inventory set reserved = 4 where product_id = any(${[a.id, b.id]}::uuid[])`,
    );
    await invalidateProducts(shop.ctx, [a.id, b.id, a.id]);
    expect(await read(a.id)).toMatchObject({ reserved: 4, available: 6 });
    expect(await read(b.id)).toMatchObject({ reserved: 4, available: 6 });
  });
});

describe('invalidation by generation survives the read/write race', () => {
  it('never serves a value a slow reader stores after the writer invalidated', async () => {
    const product = await createProduct(10);
    // Reader: sees the current generation and reads the database…
    const before = await lookupCachedProduct(shop.ctx, product.id);
    expect(before.hit).toBe(false);
    const generation = before.hit ? -1 : before.generation;
    const staleViews = await loadProductViews(shop.ctx.orm.em.fork(), [product.id], 5);
    // …writer commits a restock and invalidates…
    const restock = await shop.request('POST', `/api/v1/inventory/${product.id}/restock`, {
      token: seller.token,
      body: { quantity: 90 },
    });
    expect(restock.body.data.stock).toBe(100);
    // …and only then does the reader store its stale copy.
    await storeCachedProduct(shop.ctx, staleViews.get(product.id)!, generation);
    expect(await shop.ctx.redis.exists(productCacheKeys(shop.ctx, product.id).entry)).toBe(1);

    expect((await lookupCachedProduct(shop.ctx, product.id)).hit).toBe(false);
    let fresh: any;
    const statements = await statementsDuring(async () => (fresh = await read(product.id)));
    expect(statements).toHaveLength(1);
    expect(fresh).toMatchObject({ stock: 100, available: 100 });
    expect(await lookupCachedProduct(shop.ctx, product.id)).toMatchObject({
      hit: true,
      view: { stock: 100 },
    });
  });

  it('serves fresh data when the reader read the database after the commit, too', async () => {
    const product = await createProduct(10);
    const before = await lookupCachedProduct(shop.ctx, product.id);
    await invalidateProducts(shop.ctx, [product.id]);
    const view = await getCachedProductView(shop.ctx, product.id);
    expect(view?.stock).toBe(10);
    // The copy tagged with the old generation is ignored; the next read refreshes it.
    await storeCachedProduct(shop.ctx, view!, before.hit ? -1 : before.generation);
    expect((await lookupCachedProduct(shop.ctx, product.id)).hit).toBe(false);
    expect((await read(product.id)).stock).toBe(10);
  });

  it('bumps every generation of a multi-product invalidation, once per distinct id', async () => {
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await invalidateProducts(shop.ctx, [...ids, ids[0]!]);
    await invalidateProducts(shop.ctx, [ids[1]!]);
    await invalidateProducts(shop.ctx, []);
    const gens = await Promise.all(
      ids.map((id) => shop.ctx.redis.get(productCacheKeys(shop.ctx, id).generation)),
    );
    expect(gens).toEqual(['1', '2', '1']);
  });
});

// Redis really stopped under product reads and writes: test/e2e/degraded.test.ts. Here only the
// cache's client is pointed at nothing, for an invalidation that fails while the write succeeds (a
// Redis that flaps between the two), which a whole-server stop cannot time.
describe('when an invalidation cannot reach Redis', () => {
  it('retries a failed invalidation in the background, so the cached copy is dropped once Redis is back', async () => {
    const product = await createProduct(10);
    await read(product.id);
    const original = shop.ctx.redis;
    const unreachable = createRedis('redis://127.0.0.1:1', 'command', 'unreachable');
    shop.ctx.redis = unreachable;
    try {
      const restock = await shop.request('POST', `/api/v1/inventory/${product.id}/restock`, {
        token: seller.token,
        body: { quantity: 1 },
      });
      expect(restock.body.data.stock).toBe(11);
    } finally {
      shop.ctx.redis = original;
      unreachable.disconnect();
    }
    const deadline = Date.now() + 20_000;
    while ((await read(product.id)).stock !== 11) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
