import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidateProducts } from '../../src/catalog/product-cache';
import { query, sql } from '../../src/db/sql';
import { statementsDuring as countStatements } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let otherSeller: TestUser;
let admin: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ LOW_STOCK_THRESHOLD: '5', WORKERS: 'inventory' });
  [seller, otherSeller, admin, buyer] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('SELLER'),
    shop.createUser('ADMIN'),
    shop.createUser('BUYER'),
  ]);
});
afterAll(() => shop?.close());

const newProduct = (overrides: Record<string, unknown> = {}) => ({
  name: 'Plain Mug',
  description: 'A mug.',
  price: 12_000,
  category: 'kitchen',
  brand: 'Muji',
  initialStock: 20,
  ...overrides,
});

async function createProduct(overrides: Record<string, unknown> = {}, token = seller.token) {
  const res = await shop.request('POST', '/api/v1/products', { token, body: newProduct(overrides) });
  expect(res.status).toBe(201);
  return res.body.data;
}

const getProduct = (id: string) => shop.request('GET', `/api/v1/products/${id}`);
const list = (queryString: string) => shop.request('GET', `/api/v1/products?${queryString}`);
const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((p) => p.name);

const statementsDuring = (fn: () => Promise<unknown>) => countStatements(shop.databaseName, fn);

describe('creating a product', () => {
  it('lets a seller create a product with its inventory, in the documented shape', async () => {
    const res = await shop.request('POST', '/api/v1/products', { token: seller.token, body: newProduct() });
    expect(res.status).toBe(201);
    const product = res.body.data;
    expect(Object.keys(product).sort()).toEqual(
      [
        'id',
        'sellerId',
        'name',
        'description',
        'price',
        'category',
        'brand',
        'status',
        'stock',
        'reserved',
        'available',
        'stockStatus',
        'rating',
        'createdAt',
        'updatedAt',
      ].sort(),
    );
    expect(product).toMatchObject({
      sellerId: seller.id,
      name: 'Plain Mug',
      description: 'A mug.',
      price: 12_000,
      category: 'kitchen',
      brand: 'Muji',
      status: 'ON_SALE',
      stock: 20,
      reserved: 0,
      available: 20,
      stockStatus: 'AVAILABLE',
      rating: { average: 0, count: 0 },
    });
    expect(product.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(new Date(product.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const inventory = await shop.request('GET', `/api/v1/inventory/${product.id}`);
    expect(inventory.body.data).toEqual({ productId: product.id, stock: 20, reserved: 0, available: 20 });
    expect((await getProduct(product.id)).body.data).toEqual(product);
  });

  it('defaults description and brand to empty strings', async () => {
    const product = await createProduct({ description: undefined, brand: undefined });
    expect(product).toMatchObject({ description: '', brand: '' });
  });

  it('makes an admin the seller of the product the admin creates', async () => {
    const product = await createProduct({}, admin.token);
    expect(product.sellerId).toBe(admin.id);
  });

  it('refuses a buyer with 403 FORBIDDEN and an anonymous caller with 401, writing nothing', async () => {
    const before = await productCount();
    const asBuyer = await shop.request('POST', '/api/v1/products', {
      token: buyer.token,
      body: newProduct(),
    });
    expect(asBuyer.status).toBe(403);
    expect(asBuyer.body.error).toBe('FORBIDDEN');
    const anonymous = await shop.request('POST', '/api/v1/products', { body: newProduct() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('UNAUTHORIZED');
    expect(await productCount()).toBe(before);
  });

  it('accepts the boundaries of every field', async () => {
    const product = await createProduct({
      name: 'n'.repeat(200),
      description: 'd'.repeat(5000),
      price: 1_000_000_000,
      category: 'c'.repeat(50),
      brand: 'b'.repeat(100),
      initialStock: 1_000_000,
    });
    expect(product.price).toBe(1_000_000_000);
    const free = await createProduct({ price: 0, initialStock: 0 });
    expect(free).toMatchObject({ price: 0, stock: 0, stockStatus: 'OUT_OF_STOCK' });
  });
});

describe('stock status, availability and rating in the product view', () => {
  it('is OUT_OF_STOCK at 0 available, LOW_STOCK up to the threshold (5), AVAILABLE above', async () => {
    const cases: [number, string][] = [
      [0, 'OUT_OF_STOCK'],
      [1, 'LOW_STOCK'],
      [5, 'LOW_STOCK'],
      [6, 'AVAILABLE'],
    ];
    for (const [initialStock, stockStatus] of cases) {
      const product = await createProduct({ initialStock });
      expect(product.stockStatus).toBe(stockStatus);
      expect((await getProduct(product.id)).body.data.stockStatus).toBe(stockStatus);
    }
  });

  it('counts available as stock − reserved', async () => {
    const product = await createProduct({ initialStock: 10 });
    await setInventory(product.id, { reserved: 7 });
    const view = (await getProduct(product.id)).body.data;
    expect(view).toMatchObject({ stock: 10, reserved: 7, available: 3, stockStatus: 'LOW_STOCK' });
    await setInventory(product.id, { reserved: 10 });
    expect((await getProduct(product.id)).body.data).toMatchObject({
      available: 0,
      stockStatus: 'OUT_OF_STOCK',
    });
  });

  it('reports the rating average rounded to one decimal, and 0 without ratings', async () => {
    const product = await createProduct();
    await run(sql`update products set rating_count = 3, rating_sum = 13 where id = ${product.id}`);
    await invalidateProducts(shop.ctx, [product.id]);
    expect((await getProduct(product.id)).body.data.rating).toEqual({ average: 4.3, count: 3 });
    await run(sql`update products set rating_count = 6, rating_sum = 29 where id = ${product.id}`);
    await invalidateProducts(shop.ctx, [product.id]);
    expect((await getProduct(product.id)).body.data.rating).toEqual({ average: 4.8, count: 6 });
  });
});

describe('reading one product', () => {
  it('answers 404 PRODUCT_NOT_FOUND for an unknown id and 400 for a malformed one', async () => {
    const unknown = await getProduct(crypto.randomUUID());
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('PRODUCT_NOT_FOUND');
    for (const id of ['42', 'not-a-uuid', `${crypto.randomUUID()}x`]) {
      const res = await getProduct(id);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
      expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'param.id' }));
    }
  });
});

describe('editing a product', () => {
  it('lets the owning seller change any subset of the fields', async () => {
    const product = await createProduct();
    const res = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
      token: seller.token,
      body: { name: 'Big Mug', price: 15_000 },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      name: 'Big Mug',
      price: 15_000,
      description: 'A mug.',
      brand: 'Muji',
    });
    expect(res.body.data.updatedAt >= product.updatedAt).toBe(true);
    const all = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
      token: seller.token,
      body: { name: 'N', description: '', price: 1, category: 'c', brand: '' },
    });
    expect(all.body.data).toMatchObject({ name: 'N', description: '', price: 1, category: 'c', brand: '' });
  });

  it('lets an admin edit any product', async () => {
    const product = await createProduct();
    const res = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
      token: admin.token,
      body: { category: 'moved' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ category: 'moved', sellerId: seller.id });
  });

  it("refuses another seller's and a buyer's edit with 403 FORBIDDEN, leaving the product as it was", async () => {
    const product = await createProduct();
    for (const token of [otherSeller.token, buyer.token]) {
      const res = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
        token,
        body: { price: 1 },
      });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('FORBIDDEN');
    }
    const anonymous = await shop.request('PATCH', `/api/v1/products/${product.id}`, { body: { price: 1 } });
    expect(anonymous.status).toBe(401);
    expect((await getProduct(product.id)).body.data.price).toBe(12_000);
  });

  it('answers 404 PRODUCT_NOT_FOUND for an unknown product', async () => {
    const res = await shop.request('PATCH', `/api/v1/products/${crypto.randomUUID()}`, {
      token: admin.token,
      body: { price: 1 },
    });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('PRODUCT_NOT_FOUND');
  });

  it('refuses an empty change (or one with only unknown fields) with 400', async () => {
    const product = await createProduct();
    for (const body of [{}, { foo: 'bar' }, { name: undefined }]) {
      const res = await shop.request('PATCH', `/api/v1/products/${product.id}`, {
        token: seller.token,
        body,
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
    }
  });
});

describe('changing the status of a product', () => {
  it('lets the owner discontinue a product, which hides it from the default list', async () => {
    const product = await createProduct({ category: 'status-rule' });
    const res = await shop.request('PATCH', `/api/v1/products/${product.id}/status`, {
      token: seller.token,
      body: { status: 'DISCONTINUED' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('DISCONTINUED');
    expect((await getProduct(product.id)).body.data.status).toBe('DISCONTINUED');
    expect((await list('category=status-rule')).body.data).toEqual([]);
    expect(names(await list('category=status-rule&status=DISCONTINUED'))).toEqual([product.name]);
  });

  it('lets an admin change it; refuses another seller and a buyer (403), unknown ids (404), bad statuses (400)', async () => {
    const product = await createProduct();
    const path = `/api/v1/products/${product.id}/status`;
    const byAdmin = await shop.request('PATCH', path, { token: admin.token, body: { status: 'SOLD_OUT' } });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.data.status).toBe('SOLD_OUT');
    for (const token of [otherSeller.token, buyer.token]) {
      const res = await shop.request('PATCH', path, { token, body: { status: 'ON_SALE' } });
      expect([res.status, res.body.error]).toEqual([403, 'FORBIDDEN']);
    }
    const unknown = await shop.request('PATCH', `/api/v1/products/${crypto.randomUUID()}/status`, {
      token: admin.token,
      body: { status: 'ON_SALE' },
    });
    expect([unknown.status, unknown.body.error]).toEqual([404, 'PRODUCT_NOT_FOUND']);
    for (const body of [{ status: 'DELETED' }, { status: 'on_sale' }, {}, { status: null }]) {
      const res = await shop.request('PATCH', path, { token: seller.token, body });
      expect([res.status, res.body.error]).toEqual([400, 'VALIDATION_ERROR']);
    }
    expect((await getProduct(product.id)).body.data.status).toBe('SOLD_OUT');
  });
});

describe('searching the catalog', () => {
  // Created in this order (newest last); 'fixture-a' has five listed products and one discontinued.
  const fixture = [
    { name: 'Alpha Runner', brand: 'Swoosh', price: 1000, category: 'fixture-a' },
    { name: 'Beta Runner', brand: 'Stripes', price: 5000, category: 'fixture-a' },
    { name: 'Gamma Trail', brand: 'Swoosh', price: 3000, category: 'fixture-a' },
    { name: '100% Cotton_Tee', brand: 'Basics', price: 3000, category: 'fixture-a' },
    { name: 'Delta Boot', brand: 'Stripes', price: 9000, category: 'fixture-a', status: 'DISCONTINUED' },
    { name: 'Epsilon Shoe', brand: 'SWOOSH PRO', price: 7000, category: 'fixture-a' },
    { name: 'Omega Book', brand: 'Paper', price: 2000, category: 'fixture-b', status: 'SOLD_OUT' },
  ];
  const byName = new Map<string, { id: string; createdAt: string; price: number }>();

  beforeAll(async () => {
    for (const { status, ...fields } of fixture) {
      const product = await createProduct(fields);
      if (status) {
        await shop.request('PATCH', `/api/v1/products/${product.id}/status`, {
          token: seller.token,
          body: { status },
        });
      }
      byName.set(product.name, product);
    }
  });

  const listedA = () => fixture.filter((f) => f.category === 'fixture-a' && !f.status);
  const newestFirst = (a: string, b: string) => {
    const [x, y] = [byName.get(a)!, byName.get(b)!];
    return x.createdAt === y.createdAt ? (x.id < y.id ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1;
  };

  it('filters by exact category and exact brand', async () => {
    expect(names(await list('category=fixture-b'))).toEqual(['Omega Book']);
    expect(names(await list('category=fixture-a&brand=Swoosh')).sort()).toEqual([
      'Alpha Runner',
      'Gamma Trail',
    ]);
    expect((await list('category=fixture-a&brand=swoosh')).body.data).toEqual([]);
    expect((await list('category=fixture')).body.data).toEqual([]);
  });

  it('filters by an inclusive price range', async () => {
    const range = names(await list('category=fixture-a&minPrice=3000&maxPrice=5000'));
    expect(range.sort()).toEqual(['100% Cotton_Tee', 'Beta Runner', 'Gamma Trail']);
    expect(names(await list('category=fixture-a&minPrice=7000')).sort()).toEqual(['Epsilon Shoe']);
    expect(names(await list('category=fixture-a&maxPrice=1000'))).toEqual(['Alpha Runner']);
    expect(names(await list('category=fixture-a&minPrice=3000&maxPrice=3000')).sort()).toEqual([
      '100% Cotton_Tee',
      'Gamma Trail',
    ]);
  });

  it('refuses minPrice > maxPrice and non-integer or negative prices with 400', async () => {
    const res = await list('minPrice=5000&maxPrice=4999');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_ERROR');
    expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'query.minPrice' }));
    for (const bad of [
      'minPrice=abc',
      'minPrice=-1',
      'maxPrice=1.5',
      'maxPrice=1e3',
      'minPrice=',
      'maxPrice=99999999999',
    ]) {
      const r = await list(bad);
      expect([bad, r.status, r.body.error]).toEqual([bad, 400, 'VALIDATION_ERROR']);
    }
  });

  it('matches a keyword case-insensitively in the name or the brand', async () => {
    expect(names(await list('keyword=swoosh')).sort()).toEqual([
      'Alpha Runner',
      'Epsilon Shoe',
      'Gamma Trail',
    ]);
    expect(names(await list('keyword=RUNNER')).sort()).toEqual(['Alpha Runner', 'Beta Runner']);
    expect(names(await list('keyword=stripes&status=DISCONTINUED'))).toEqual(['Delta Boot']);
    expect(names(await list('keyword=ta%20ru'))).toEqual(['Beta Runner']);
  });

  it('treats % and _ in a keyword as literal characters', async () => {
    expect(names(await list('keyword=%25'))).toEqual(['100% Cotton_Tee']);
    expect(names(await list('keyword=_'))).toEqual(['100% Cotton_Tee']);
    expect(names(await list('keyword=n_t'))).toEqual(['100% Cotton_Tee']);
    expect((await list('keyword=a_p')).body.data).toEqual([]);
    expect((await list('keyword=%5C')).body.data).toEqual([]);
  });

  it('lists only products with units available to order when inStock=true', async () => {
    const none = await createProduct({ name: 'Stockless', category: 'fixture-stock', initialStock: 0 });
    const held = await createProduct({ name: 'All Held', category: 'fixture-stock', initialStock: 5 });
    await createProduct({ name: 'Two Left', category: 'fixture-stock', initialStock: 2 });
    await setInventory(held.id, { reserved: 5 });
    const inStock = await list('category=fixture-stock&inStock=true');
    expect(names(inStock)).toEqual(['Two Left']);
    expect(inStock.body.meta).toMatchObject({ totalElements: 1 });
    expect(names(await list('category=fixture-stock&inStock=false')).sort()).toEqual([
      'All Held',
      'Stockless',
      'Two Left',
    ]);
    await setInventory(held.id, { reserved: 4 });
    expect(names(await list('category=fixture-stock&inStock=true&sort=price,asc')).sort()).toEqual([
      'All Held',
      'Two Left',
    ]);
    expect(none.available).toBe(0);
    expect((await list('inStock=yes')).status).toBe(400);
  });

  it('lists everything but DISCONTINUED by default and exactly the given status when asked', async () => {
    expect(names(await list('category=fixture-a')).sort()).toEqual(
      listedA()
        .map((f) => f.name)
        .sort(),
    );
    expect(names(await list('category=fixture-b&status=ON_SALE'))).toEqual([]);
    expect(names(await list('category=fixture-b&status=SOLD_OUT'))).toEqual(['Omega Book']);
    expect(names(await list('category=fixture-a&status=DISCONTINUED'))).toEqual(['Delta Boot']);
    expect((await list('status=GONE')).status).toBe(400);
  });

  it('sorts newest first by default, and by createdAt ascending on request', async () => {
    const expected = listedA()
      .map((f) => f.name)
      .sort(newestFirst);
    expect(names(await list('category=fixture-a'))).toEqual(expected);
    expect(names(await list('category=fixture-a&sort=createdAt,desc'))).toEqual(expected);
    expect(names(await list('category=fixture-a&sort=createdAt,asc'))).toEqual([...expected].reverse());
  });

  it('sorts by price both ways', async () => {
    const asc = (await list('category=fixture-a&sort=price,asc')).body.data;
    expect(asc.map((p: { price: number }) => p.price)).toEqual([1000, 3000, 3000, 5000, 7000]);
    const desc = (await list('category=fixture-a&sort=price,desc')).body.data;
    expect(desc.map((p: { price: number }) => p.price)).toEqual([7000, 5000, 3000, 3000, 1000]);
    expect(desc.map((p: { id: string }) => p.id)).toEqual(asc.map((p: { id: string }) => p.id).reverse());
  });

  it('sorts popular by units sold, ties newest first', async () => {
    await run(sql`update inventory set sold = 50 where product_id = ${byName.get('Gamma Trail')!.id}`);
    await run(sql`update inventory set sold = 20 where product_id = ${byName.get('Alpha Runner')!.id}`);
    await run(sql`update inventory set sold = 20 where product_id = ${byName.get('Beta Runner')!.id}`);
    const rest = ['100% Cotton_Tee', 'Epsilon Shoe'].sort(newestFirst);
    expect(names(await list('category=fixture-a&sort=popular'))).toEqual([
      'Gamma Trail',
      ...['Alpha Runner', 'Beta Runner'].sort(newestFirst),
      ...rest,
    ]);
  });

  it('pages with 0-based page and size, reporting totals', async () => {
    const all = names(await list('category=fixture-a&sort=price,asc'));
    const pages = [];
    for (const page of [0, 1, 2]) {
      const res = await list(`category=fixture-a&sort=price,asc&page=${page}&size=2`);
      expect(res.status).toBe(200);
      expect(res.body.meta).toEqual({ page, size: 2, totalElements: 5, totalPages: 3 });
      pages.push(...names(res));
    }
    expect(pages).toEqual(all);
    const beyond = await list('category=fixture-a&page=7&size=2');
    expect(beyond.body).toEqual({ data: [], meta: { page: 7, size: 2, totalElements: 5, totalPages: 3 } });
    const defaults = await list('category=fixture-a');
    expect(defaults.body.meta).toEqual({ page: 0, size: 20, totalElements: 5, totalPages: 1 });
    const empty = await list('category=nothing-here');
    expect(empty.body).toEqual({ data: [], meta: { page: 0, size: 20, totalElements: 0, totalPages: 0 } });
  });

  it('refuses size over 100, size 0, a negative page and unknown sorts with 400 VALIDATION_ERROR', async () => {
    expect((await list('size=100')).status).toBe(200);
    for (const bad of [
      'size=101',
      'size=0',
      'page=-1',
      'page=x',
      'sort=name,asc',
      'sort=price',
      'sort=price,up',
      'sort=popular,desc',
      'sort=',
      `keyword=${'k'.repeat(101)}`,
      'category=',
      'brand=',
    ]) {
      const res = await list(bad);
      expect([bad, res.status, res.body.error]).toEqual([bad, 400, 'VALIDATION_ERROR']);
      expect(res.body.details?.[0]?.field).toMatch(/^query\./);
    }
  });

  it('takes exactly two SQL statements per list (page and count), whatever the page holds', async () => {
    for (const q of [
      'category=fixture-a&sort=popular&size=100',
      'keyword=runner&minPrice=1',
      'page=3&size=1',
    ]) {
      const statements = await statementsDuring(async () => expect((await list(q)).status).toBe(200));
      expect(statements).toHaveLength(2);
    }
  });

  it('returns the full product view for each row', async () => {
    const [first] = (await list('category=fixture-a&sort=price,asc&size=1')).body.data;
    expect(first).toEqual((await getProduct(byName.get('Alpha Runner')!.id)).body.data);
  });
});

// PostgreSQL really stopped under product writes: test/e2e/degraded.test.ts.

describe('malformed input', () => {
  it('answers every malformed request with a 4xx in the envelope and writes nothing', async () => {
    const product = await createProduct({ name: 'Barrage Target' });
    const before = await snapshot();
    const id = product.id;
    const cases: [string, string, unknown, string | undefined, number][] = [
      ['POST', '/api/v1/products', '{"name": "x",', seller.token, 400],
      ['POST', '/api/v1/products', 'null', seller.token, 400],
      ['POST', '/api/v1/products', '[]', seller.token, 400],
      ['POST', '/api/v1/products', '"text"', seller.token, 400],
      ['POST', '/api/v1/products', {}, seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ name: '' }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ name: '   ' }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ name: 'n'.repeat(201) }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ name: 42 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ description: 'd'.repeat(5001) }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ description: null }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: -1 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: 1.5 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: '1000' }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: 1_000_000_001 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: 1e308 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ price: undefined }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ category: '' }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ category: 'c'.repeat(51) }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ brand: 'b'.repeat(101) }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ brand: ['x'] }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ initialStock: -1 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ initialStock: 1_000_001 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ initialStock: 2.5 }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ initialStock: '5' }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct({ initialStock: undefined }), seller.token, 400],
      ['POST', '/api/v1/products', newProduct(), 'not-a-token', 401],
      ['POST', '/api/v1/products', newProduct({ name: 'x'.repeat(1_100_000) }), seller.token, 413],
      ['PATCH', `/api/v1/products/${id}`, '{bad json', seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { price: -5 }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { price: '5' }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { price: 0.1 }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { name: '' }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { name: null }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { category: 7 }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}`, { description: 'x'.repeat(2_000_000) }, seller.token, 413],
      ['PATCH', '/api/v1/products/not-a-uuid', { price: 5 }, seller.token, 400],
      ['PATCH', `/api/v1/products/${crypto.randomUUID()}`, { price: 5 }, seller.token, 404],
      ['PATCH', `/api/v1/products/${id}/status`, { status: 'SOLD' }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}/status`, { status: 1 }, seller.token, 400],
      ['PATCH', `/api/v1/products/${id}/status`, '', seller.token, 400],
      ['PATCH', `/api/v1/products/${id}/status`, { status: 'ON_SALE' }, otherSeller.token, 403],
      ['PATCH', '/api/v1/products/1/status', { status: 'ON_SALE' }, seller.token, 400],
      ['GET', '/api/v1/products/%00', undefined, undefined, 400],
      ['GET', `/api/v1/products/${id.toUpperCase()}x`, undefined, undefined, 400],
      ['GET', '/api/v1/products?size=101', undefined, undefined, 400],
      ['GET', '/api/v1/products?page=-1', undefined, undefined, 400],
      ['GET', '/api/v1/products?minPrice=abc', undefined, undefined, 400],
      ['GET', '/api/v1/products?minPrice=1&minPrice=2', undefined, undefined, 400],
      ['GET', '/api/v1/products?sort=price,asc;drop', undefined, undefined, 400],
      ['GET', `/api/v1/inventory/${crypto.randomUUID()}`, undefined, undefined, 404],
      ['GET', '/api/v1/inventory/abc', undefined, undefined, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 0 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: -3 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 1.5 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: '3' }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 1_000_001 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 1e300 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, {}, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, '{"quantity":', seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 3 }, buyer.token, 403],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 3 }, undefined, 401],
      ['POST', '/api/v1/inventory/nope/restock', { quantity: 3 }, seller.token, 400],
      ['POST', `/api/v1/inventory/${id}/restock`, { quantity: 'x'.repeat(1_100_000) }, seller.token, 413],
    ];
    for (const [method, path, body, token, status] of cases) {
      const res = await shop.request(method, path, { token, body });
      const label = `${method} ${path.slice(0, 60)} ${JSON.stringify(body)?.slice(0, 60)}`;
      expect([label, res.status]).toEqual([label, status]);
      expect(typeof res.body.error, label).toBe('string');
      expect(typeof res.body.message, label).toBe('string');
    }
    const textBody = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: JSON.stringify(newProduct()),
      headers: { 'content-type': 'text/plain' },
    });
    expect(textBody.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });
});

async function run(statement: ReturnType<typeof sql>) {
  await query(shop.ctx.orm.em.fork(), statement);
}

async function setInventory(productId: string, { reserved }: { reserved: number }) {
  await run(sql`update inventory set reserved = ${reserved} where product_id = ${productId}`);
  await invalidateProducts(shop.ctx, [productId]);
}

async function productCount(): Promise<number> {
  const [row] = await query<{ count: number }>(
    shop.ctx.orm.em.fork(),
    sql`select count(*)::int as count from products`,
  );
  return row!.count;
}

/** Everything the catalog endpoints could write, as one comparable value. */
async function snapshot() {
  return query(
    shop.ctx.orm.em.fork(),
    sql`select p.*, i.stock, i.reserved, i.version from products p join inventory i on i.product_id = p.id
        order by p.id`,
  );
}
