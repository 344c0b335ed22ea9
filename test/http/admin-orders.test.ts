import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../support/catalog';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// GET /admin/orders: support finds any buyer's orders by the buyer (id or email) or an order number;
// admins only, never cached, and never a scan of every order (a search field is required).

let shop: TestShop;
let admin: TestUser;
let buyer: TestUser;
let other: TestUser;
let orders: { id: string; orderNo: string }[];
let othersOrder: { id: string; orderNo: string };

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  admin = await shop.createUser('ADMIN');
  buyer = await shop.createUser('BUYER');
  other = await shop.createUser('BUYER');
  const seller = await shop.createUser('SELLER');
  const productId = await createProduct(shop, seller, { stock: 100 });
  orders = [];
  for (let i = 0; i < 3; i++) orders.push(await placeOrder(shop, buyer, [{ productId, quantity: 1 }]));
  othersOrder = await placeOrder(shop, other, [{ productId, quantity: 2 }]);
  const cancelled = await shop.request('POST', `/api/v1/orders/${orders[0]!.id}/cancel`, {
    token: buyer.token,
    body: {},
  });
  expect(cancelled.status).toBe(200);
}, 60_000);
afterAll(() => shop?.close());

const search = (query: string, token = admin.token) =>
  shop.request('GET', `/api/v1/admin/orders?${query}`, { token });

const idsOf = (body: { data: { id: string }[] }) => body.data.map((o) => o.id);

describe('GET /admin/orders', () => {
  it("lists one buyer's orders by id, newest first, with the page's meta", async () => {
    const res = await search(`userId=${buyer.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(idsOf(res.body)).toEqual(orders.map((o) => o.id).reverse());
    expect(res.body.data.every((o: { userId: string }) => o.userId === buyer.id)).toBe(true);
    expect(res.body.meta).toMatchObject({ page: 0, size: 20, totalElements: 3 });
  });

  it('finds the buyer by email in any case, and filters by status', async () => {
    const res = await search(`email=${encodeURIComponent(buyer.email.toUpperCase())}&status=CANCELLED`);
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual([orders[0]!.id]);
    expect(res.body.data[0].status).toBe('CANCELLED');
  });

  it('finds one order by its number, and nothing when the fields name different buyers', async () => {
    const byNumber = await search(`orderNo=${othersOrder.orderNo}`);
    expect(idsOf(byNumber.body)).toEqual([othersOrder.id]);
    const mismatch = await search(`orderNo=${othersOrder.orderNo}&userId=${buyer.id}`);
    expect(mismatch.status).toBe(200);
    expect(mismatch.body.data).toEqual([]);
    expect(mismatch.body.meta.totalElements).toBe(0);
  });

  it('answers an empty page for an email nobody has', async () => {
    const res = await search('email=nobody-here%40example.com');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  it('sorts and pages like the buyer’s own list', async () => {
    const res = await search(`userId=${buyer.id}&sort=createdAt,asc&size=2&page=1`);
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual([orders[2]!.id]);
    expect(res.body.meta).toMatchObject({ page: 1, size: 2, totalElements: 3, totalPages: 2 });
  });

  it('requires a search field, and refuses malformed ones', async () => {
    for (const query of ['', 'status=PAID', 'userId=not-a-uuid', 'orderNo=12345', 'email=not-an-email']) {
      const res = await search(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error, query).toBe('VALIDATION_ERROR');
    }
  });

  it('is for admins only', async () => {
    expect((await search(`userId=${buyer.id}`, buyer.token)).status).toBe(403);
    expect((await search(`userId=${other.id}`, buyer.token)).status).toBe(403);
    const seller = await shop.createUser('SELLER');
    expect((await search(`userId=${buyer.id}`, seller.token)).status).toBe(403);
    const anonymous = await shop.request('GET', `/api/v1/admin/orders?userId=${buyer.id}`);
    expect(anonymous.status).toBe(401);
  });
});
