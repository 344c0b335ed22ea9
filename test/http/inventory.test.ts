import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRestock, MAX_STOCK } from '../../src/catalog/inventory.service';
import { query, sql } from '../../src/db/sql';
import { statementsDuring as countStatements } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let otherSeller: TestUser;
let admin: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'inventory' });
  [seller, otherSeller, admin, buyer] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('SELLER'),
    shop.createUser('ADMIN'),
    shop.createUser('BUYER'),
  ]);
});
afterAll(() => shop?.close());

async function createProduct(initialStock = 10) {
  const res = await shop.request('POST', '/api/v1/products', {
    token: seller.token,
    body: { name: 'Stocked Item', price: 1000, category: 'misc', initialStock },
  });
  expect(res.status).toBe(201);
  return res.body.data as { id: string };
}

const inventory = (productId: string) => shop.request('GET', `/api/v1/inventory/${productId}`);
/** Restocks as the owning seller unless another token (or null: anonymous) is given. */
const restock = (productId: string, quantity: unknown, token: string | null = seller.token) =>
  shop.request('POST', `/api/v1/inventory/${productId}/restock`, {
    token: token ?? undefined,
    body: { quantity },
  });

const statementsDuring = (fn: () => Promise<unknown>) => countStatements(shop.databaseName, fn);

describe('reading inventory', () => {
  it('shows stock, reserved and available (stock − reserved) to anyone', async () => {
    const product = await createProduct(12);
    await query(
      shop.ctx.orm.em.fork(),
      sql`update inventory set reserved = 5 where product_id = ${product.id}`,
    );
    const res = await inventory(product.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { productId: product.id, stock: 12, reserved: 5, available: 7 } });
  });

  it('answers 404 PRODUCT_NOT_FOUND for an unknown product and 400 for a malformed id', async () => {
    const unknown = await inventory(crypto.randomUUID());
    expect([unknown.status, unknown.body.error]).toEqual([404, 'PRODUCT_NOT_FOUND']);
    const malformed = await inventory('12345');
    expect([malformed.status, malformed.body.error]).toEqual([400, 'VALIDATION_ERROR']);
    expect(malformed.body.details).toContainEqual(expect.objectContaining({ field: 'param.productId' }));
  });
});

describe('restocking', () => {
  it('lets the owning seller add stock, and the product view follows', async () => {
    const product = await createProduct(0);
    expect((await shop.request('GET', `/api/v1/products/${product.id}`)).body.data.stockStatus).toBe(
      'OUT_OF_STOCK',
    );
    const res = await restock(product.id, 3);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ productId: product.id, stock: 3, reserved: 0, available: 3 });
    expect((await shop.request('GET', `/api/v1/products/${product.id}`)).body.data).toMatchObject({
      stock: 3,
      stockStatus: 'LOW_STOCK',
    });
    expect((await inventory(product.id)).body.data.stock).toBe(3);
  });

  it('lets an admin restock any product', async () => {
    const product = await createProduct(10);
    const res = await restock(product.id, 1_000_000, admin.token);
    expect(res.status).toBe(200);
    expect(res.body.data.stock).toBe(1_000_010);
  });

  it('refuses another seller (403), a buyer (403) and an anonymous caller (401), leaving stock alone', async () => {
    const product = await createProduct(10);
    for (const [token, status, error] of [
      [otherSeller.token, 403, 'FORBIDDEN'],
      [buyer.token, 403, 'FORBIDDEN'],
      [null, 401, 'UNAUTHORIZED'],
    ] as const) {
      const res = await restock(product.id, 5, token);
      expect([res.status, res.body.error]).toEqual([status, error]);
    }
    expect((await inventory(product.id)).body.data.stock).toBe(10);
  });

  it('answers 404 PRODUCT_NOT_FOUND for an unknown product', async () => {
    const res = await restock(crypto.randomUUID(), 5, admin.token);
    expect([res.status, res.body.error]).toEqual([404, 'PRODUCT_NOT_FOUND']);
  });

  it('refuses quantities that are not integers from 1 to 1,000,000 with 400', async () => {
    const product = await createProduct(10);
    for (const quantity of [0, -1, 1.5, '2', null, 1_000_001, Number.MAX_SAFE_INTEGER, true]) {
      const res = await restock(product.id, quantity);
      expect([quantity, res.status, res.body.error]).toEqual([quantity, 400, 'VALIDATION_ERROR']);
      expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'body.quantity' }));
    }
    expect((await inventory(product.id)).body.data.stock).toBe(10);
  });

  it(`refuses to grow stock past ${MAX_STOCK} with 400 rather than overflowing`, async () => {
    const product = await createProduct(10);
    await query(
      shop.ctx.orm.em.fork(),
      sql`update inventory set stock = ${MAX_STOCK - 1} where product_id = ${product.id}`,
    );
    const over = await restock(product.id, 2);
    expect([over.status, over.body.error]).toEqual([400, 'VALIDATION_ERROR']);
    expect((await inventory(product.id)).body.data.stock).toBe(MAX_STOCK - 1);
    expect((await restock(product.id, 1)).body.data.stock).toBe(MAX_STOCK);
  });

  it('adds every unit of concurrent restocks exactly once', async () => {
    const product = await createProduct(0);
    const results = await Promise.all(Array.from({ length: 25 }, () => restock(product.id, 2)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Each answer is read after its own commit: it includes at least this restock.
    expect(results.every((r) => r.body.data.stock >= 2 && r.body.data.stock <= 50)).toBe(true);
    expect((await inventory(product.id)).body.data.stock).toBe(50);
    // Each restock's event records the stock its own atomic update produced: all different.
    const events = await query<{ stock: number }>(
      shop.ctx.orm.em.fork(),
      sql`select (payload->>'stock')::int as stock from outbox_events
          where aggregate_id = ${product.id} and type = 'INVENTORY_RESTOCKED'`,
    );
    expect(events.map((e) => e.stock).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 25 }, (_, i) => 2 * (i + 1)),
    );
  });

  it('changes stock with one atomic UPDATE statement, ownership check included', async () => {
    const product = await createProduct(10);
    const statements = await statementsDuring(async () =>
      expect((await restock(product.id, 1)).status).toBe(200),
    );
    expect(statements.filter((s) => /^\s*update "?inventory"?/.test(s))).toHaveLength(1);
  });

  it('applies a restock inside the actor’s transaction, checking the actor', async () => {
    const product = await createProduct(4);
    const inTx = (actor: { id: string; role: 'SELLER' | 'BUYER' }, quantity: number) =>
      shop.ctx.orm.em.fork().transactional((tx) => applyRestock(tx, actor, product.id, quantity));
    const view = await inTx({ id: seller.id, role: 'SELLER' }, 6);
    expect(view).toEqual({ productId: product.id, stock: 10, reserved: 0, available: 10 });
    await expect(inTx({ id: seller.id, role: 'BUYER' }, 1)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(inTx({ id: otherSeller.id, role: 'SELLER' }, 1)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await inventory(product.id)).body.data.stock).toBe(10);
  });
});
