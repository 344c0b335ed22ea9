import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../support/catalog';
import { markPaid, placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'order' });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

const review = (user: TestUser, productId: string, body: unknown) =>
  shop.request('POST', `/api/v1/products/${productId}/reviews`, { token: user.token, body });

describe('who may review', () => {
  it('refuses a buyer who has not bought the product, and one whose order is still PENDING', async () => {
    const productId = await createProduct(shop, seller);
    const buyer = await shop.createUser('BUYER');
    expect((await review(buyer, productId, { rating: 5 })).status).toBe(403);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const pending = await review(buyer, productId, { rating: 5 });
    expect([pending.status, pending.body.error]).toEqual([403, 'FORBIDDEN']);
  });

  it('lets a buyer with a paid order review it once per purchase, and updates the rating', async () => {
    const productId = await createProduct(shop, seller);
    const buyer = await shop.createUser('BUYER');
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await markPaid(shop, buyer, order.id, order.total);
    const first = await review(buyer, productId, { rating: 4, comment: 'Comfy' });
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject({ productId, userId: buyer.id, rating: 4, comment: 'Comfy' });
    expect((await review(buyer, productId, { rating: 1 })).status).toBe(403);

    const other = await shop.createUser('BUYER');
    const second = await placeOrder(shop, other, [{ productId, quantity: 1 }]);
    await markPaid(shop, other, second.id, second.total);
    expect((await review(other, productId, { rating: 5 })).status).toBe(201);
    const product = await shop.request('GET', `/api/v1/products/${productId}`);
    expect(product.body.data.rating).toEqual({ average: 4.5, count: 2 });
  });

  it('is for buyers only and validates the rating', async () => {
    const productId = await createProduct(shop, seller);
    expect((await review(seller, productId, { rating: 5 })).status).toBe(403);
    const buyer = await shop.createUser('BUYER');
    for (const rating of [0, 6, 3.5, '5', null])
      expect((await review(buyer, productId, { rating })).status).toBe(400);
    expect((await review(buyer, crypto.randomUUID(), { rating: 3 })).status).toBe(404);
    expect(
      (await shop.request('POST', `/api/v1/products/${productId}/reviews`, { body: { rating: 3 } })).status,
    ).toBe(401);
  });
});

describe('listing reviews', () => {
  it('pages a product’s reviews newest first; unknown product 404', async () => {
    const productId = await createProduct(shop, seller);
    for (const rating of [3, 5]) {
      const buyer = await shop.createUser('BUYER');
      const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
      await markPaid(shop, buyer, order.id, order.total);
      await review(buyer, productId, { rating });
    }
    const res = await shop.request('GET', `/api/v1/products/${productId}/reviews?size=1`);
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ page: 0, size: 1, totalElements: 2, totalPages: 2 });
    expect(res.body.data[0].rating).toBe(5);
    expect((await shop.request('GET', `/api/v1/products/${crypto.randomUUID()}/reviews`)).status).toBe(404);
  });
});
