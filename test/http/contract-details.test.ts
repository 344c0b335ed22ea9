import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/ids';
import { createProduct } from '../support/catalog';
import { createCoupon } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Corners of API.md an independent audit found the shop answering differently: ids in capitals, an
// empty Idempotency-Key, a BALANCE payment carrying a cardToken, an X-Request-Id with a space, and
// 404 codes outside the four API.md names.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER', { balance: 1_000_000 });
});
afterAll(() => shop?.close());

const caps = (id: string) => id.toUpperCase();

describe('an id sent in capitals is the same id', () => {
  it('changes a product and its cached view, and answers 200 (not 404 after writing)', async () => {
    const productId = await createProduct(shop, seller, { price: 1500, stock: 10 });
    expect((await shop.request('GET', `/api/v1/products/${productId}`)).body.data.price).toBe(1500); // cached

    const changed = await shop.request('PATCH', `/api/v1/products/${caps(productId)}`, {
      token: seller.token,
      body: { price: 1777 },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.data).toMatchObject({ id: productId, price: 1777 });
    expect((await shop.request('GET', `/api/v1/products/${productId}`)).body.data.price).toBe(1777);

    const read = await shop.request('GET', `/api/v1/products/${caps(productId)}`);
    expect(read.status).toBe(200);
    expect(read.body.data).toMatchObject({ id: productId, price: 1777 });

    const status = await shop.request('PATCH', `/api/v1/products/${caps(productId)}/status`, {
      token: seller.token,
      body: { status: 'SOLD_OUT' },
    });
    expect(status.status).toBe(200);
    expect((await shop.request('GET', `/api/v1/products/${productId}`)).body.data.status).toBe('SOLD_OUT');
  });

  it('reserves the same stock, through the same stock gate, whichever case the order names it in', async () => {
    const productId = await createProduct(shop, seller, { stock: 3 });
    const place = (id: string) =>
      shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId: id, quantity: 1 }] },
      });
    const answers = [await place(caps(productId)), await place(productId), await place(caps(productId))];
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201]);
    for (const a of answers) expect(a.body.data.items[0].productId).toBe(productId);
    const fourth = await place(caps(productId));
    expect([fourth.status, fourth.body.error]).toEqual([409, 'OUT_OF_STOCK']);
    const inventory = await shop.request('GET', `/api/v1/inventory/${productId}`, { token: seller.token });
    expect(inventory.body.data).toMatchObject({ stock: 3, reserved: 3 });
  });

  it('issues from one coupon gate: capitals and lower case share the coupons left', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 2 });
    const buyers = [buyer, await shop.createUser('BUYER'), await shop.createUser('BUYER')];
    const issued = [];
    for (const [i, b] of buyers.entries()) {
      const id = i % 2 === 0 ? caps(coupon.id) : coupon.id;
      issued.push(await shop.request('POST', `/api/v1/coupons/${id}/issue`, { token: b.token }));
    }
    expect(issued.map((r) => r.status)).toEqual([201, 201, 409]);
    expect(issued[2]!.body.error).toBe('COUPON_SOLD_OUT');
    expect((await shop.request('GET', `/api/v1/coupons/${coupon.id}`)).body.data.remaining).toBe(0);
  });
});

describe('Idempotency-Key, cardToken and X-Request-Id', () => {
  it('answers an empty Idempotency-Key on POST /payments with IDEMPOTENCY_KEY_REQUIRED', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const order = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 1 }] },
    });
    const res = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': '' },
      body: { orderId: order.body.data.id, method: 'BALANCE' },
    });
    expect([res.status, res.body.error]).toEqual([400, 'IDEMPOTENCY_KEY_REQUIRED']);
  });

  it('takes two orders sent with an empty Idempotency-Key as two orders without a key', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const place = () =>
      shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        headers: { 'idempotency-key': '' },
        body: { items: [{ productId, quantity: 1 }] },
      });
    const [first, second] = [await place(), await place()];
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.body.data.id).not.toBe(second.body.data.id);
  });

  it('pays by BALANCE when the body also carries a cardToken (ignored)', async () => {
    const productId = await createProduct(shop, seller, { stock: 5, price: 1000 });
    const order = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 1 }] },
    });
    const res = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': uuidv7() },
      body: { orderId: order.body.data.id, method: 'BALANCE', cardToken: 'tok_declined' },
    });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    expect(res.body.data).toMatchObject({ method: 'BALANCE', orderId: order.body.data.id });
  });

  it('echoes an X-Request-Id of printable characters, spaces inside included', async () => {
    const res = await shop.request('GET', '/api/v1/products', {
      headers: { 'x-request-id': 'has space ok' },
    });
    expect(res.headers.get('x-request-id')).toBe('has space ok');
    const long = await shop.request('GET', '/api/v1/products', {
      headers: { 'x-request-id': 'x'.repeat(129) },
    });
    expect(long.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('a 404 is NOT_FOUND unless API.md names a code for it', () => {
  it('answers NOT_FOUND for an unknown refund, another user’s balance and an unknown command', async () => {
    const other = await shop.createUser('BUYER');
    const answers = await Promise.all([
      shop.request('GET', `/api/v1/refunds/${uuidv7()}`, { token: buyer.token }),
      shop.request('GET', `/api/v1/balances/${other.id}`, { token: buyer.token }),
      shop.request('GET', `/api/v1/commands/${uuidv7()}`, { token: buyer.token }),
    ]);
    expect(answers.map((a) => [a.status, a.body.error])).toEqual([
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
    ]);
  });
});

describe('an optional JSON body may be empty', () => {
  it('cancels with Content-Type: application/json and no body (as many fetch wrappers send it)', async () => {
    const productId = await createProduct(shop, seller, { price: 1000, stock: 10 });
    for (const body of [undefined, '', '  ']) {
      const placed = await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 1 }] },
      });
      expect(placed.status).toBe(201);
      const cancelled = await shop.request('POST', `/api/v1/orders/${placed.body.data.id}/cancel`, {
        token: buyer.token,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
      expect(cancelled.body.data.status).toBe('CANCELLED');
    }
    // A body that is there must still be JSON.
    const placed = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 1 }] },
    });
    const malformed = await shop.request('POST', `/api/v1/orders/${placed.body.data.id}/cancel`, {
      token: buyer.token,
      body: '{"reason":',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('VALIDATION_ERROR');
    expect(
      (await shop.request('GET', `/api/v1/orders/${placed.body.data.id}`, { token: buyer.token })).body.data
        .status,
    ).toBe('PENDING');
  });
});

describe('a trailing slash', () => {
  it('on a GET that would be 404 is a 301 to the path without it; other methods and real paths are untouched', async () => {
    for (const path of ['/docs/', '/machines/order/', '/api/v1/products/', '/api/v1/products/?size=1']) {
      const res = await shop.request('GET', path);
      expect(res.status, path).toBe(301);
      const location = new URL(res.headers.get('location')!);
      expect(location.pathname + location.search).toBe(path.replace(/\/(\?|$)/, '$1'));
    }
    expect((await shop.request('GET', '/api/v1/products?size=1')).status).toBe(200);
    const post = await shop.request('POST', '/api/v1/orders/', { token: buyer.token, body: {} });
    expect(post.status).toBe(404);
    expect(post.body.error).toBe('NOT_FOUND');
  });
});
