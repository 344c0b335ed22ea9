import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { newKey, pay, waitForOrder } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Edges a mutation audit found no test for: each test below failed against the bug it names.

let shop: TestShop;
let seller: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '0' });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

const place = (user: TestUser, body: unknown, headers?: Record<string, string>) =>
  shop.request('POST', '/api/v1/orders', { token: user.token, body, ...(headers ? { headers } : {}) });
const addToCart = (user: TestUser, productId: string, quantity: number) =>
  shop.request('POST', '/api/v1/cart/items', { token: user.token, body: { productId, quantity } });
const ordersOf = async (user: TestUser) =>
  query<{ id: string }>(shop.ctx.orm.em.fork(), sql`select id from orders where user_id = ${user.id}`);

describe('a cart order with one line short (the ordinary path, not the batch or the gate)', () => {
  it('is refused whole with 409 OUT_OF_STOCK naming the short line, and reserves nothing', async () => {
    const plenty = await createProduct(shop, seller, { stock: 5 });
    const scarce = await createProduct(shop, seller, { stock: 1 });
    const rival = await shop.createUser('BUYER');
    expect((await place(rival, { items: [{ productId: scarce, quantity: 1 }] })).status).toBe(201);

    const buyer = await shop.createUser('BUYER');
    expect((await addToCart(buyer, plenty, 2)).status).toBe(201);
    expect((await addToCart(buyer, scarce, 1)).status).toBe(201);
    const res = await place(buyer, { fromCart: true });
    expect([res.status, res.body.error]).toEqual([409, 'OUT_OF_STOCK']);
    expect(res.body.details.map((d: { productId: string }) => d.productId)).toEqual([scarce]);
    expect(await inventoryOf(shop, plenty)).toMatchObject({ stock: 5, reserved: 0 });
    expect(await inventoryOf(shop, scarce)).toMatchObject({ stock: 1, reserved: 1 });
    expect(await ordersOf(buyer)).toEqual([]);
  });
});

describe('the order total limit (2,000,000,000 won)', () => {
  it('takes an order of exactly the limit and refuses one won more, on the batch path and the cart path', async () => {
    const dear = await createProduct(shop, seller, { price: 1_000_000_000, stock: 10 });
    const cheap = await createProduct(shop, seller, { price: 1, stock: 10 });
    const buyer = await shop.createUser('BUYER');
    const atLimit = await place(buyer, { items: [{ productId: dear, quantity: 2 }] });
    expect([atLimit.status, atLimit.body.data?.total]).toEqual([201, 2_000_000_000]);
    const over = await place(buyer, {
      items: [
        { productId: dear, quantity: 2 },
        { productId: cheap, quantity: 1 },
      ],
    });
    expect([over.status, over.body.error]).toEqual([400, 'VALIDATION_ERROR']);

    const carting = await shop.createUser('BUYER');
    expect((await addToCart(carting, dear, 2)).status).toBe(201);
    expect((await addToCart(carting, cheap, 1)).status).toBe(201);
    const overFromCart = await place(carting, { fromCart: true });
    expect([overFromCart.status, overFromCart.body.error]).toEqual([400, 'VALIDATION_ERROR']);
    const fromCart = await place(carting, { fromCart: true, productIds: [dear] });
    expect([fromCart.status, fromCart.body.data?.total]).toEqual([201, 2_000_000_000]);
  });
});

describe('one Idempotency-Key, two bodies at once', () => {
  it('places one order: its own request gets 201, the other 422 IDEMPOTENCY_KEY_MISMATCH', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const buyer = await shop.createUser('BUYER');
    const key = { 'idempotency-key': newKey() };
    const answers = await Promise.all(
      [1, 2].map(async (quantity) => ({
        quantity,
        res: await place(buyer, { items: [{ productId, quantity }] }, key),
      })),
    );
    expect(answers.map((a) => a.res.status).sort()).toEqual([201, 422]);
    const placed = answers.find((a) => a.res.status === 201)!;
    expect(placed.res.body.data.items[0].quantity).toBe(placed.quantity);
    expect(answers.find((a) => a.res.status === 422)!.res.body.error).toBe('IDEMPOTENCY_KEY_MISMATCH');
    expect(await ordersOf(buyer)).toHaveLength(1);
  });
});

describe("staff and other people's orders", () => {
  it('an admin may not confirm or pay a buyer’s order, nor may a seller: 404, nothing changes', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const buyer = await shop.createUser('BUYER');
    const admin = await shop.createUser('ADMIN');
    const paid = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data;
    expect((await pay(shop, buyer, { orderId: paid.id, method: 'CARD', cardToken: 'tok_ok' })).status).toBe(
      202,
    );
    await waitForOrder(shop, buyer, paid.id, (o) => o.status === 'PAID');
    const pending = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data;

    for (const staff of [admin, seller]) {
      const confirm = await shop.request('POST', `/api/v1/orders/${paid.id}/confirm`, { token: staff.token });
      expect([confirm.status, confirm.body.error]).toEqual([404, 'ORDER_NOT_FOUND']);
      const payment = await pay(shop, staff, { orderId: pending.id, method: 'CARD', cardToken: 'tok_ok' });
      expect([payment.status, payment.body.error]).toEqual([404, 'ORDER_NOT_FOUND']);
    }
    const after = await shop.request('GET', `/api/v1/orders/${paid.id}`, { token: buyer.token });
    expect(after.body.data.status).toBe('PAID');
    const stillPending = await shop.request('GET', `/api/v1/orders/${pending.id}`, { token: buyer.token });
    expect([stillPending.body.data.status, stillPending.body.data.payment]).toEqual(['PENDING', null]);
  });
});
