import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

const place = (user: TestUser, body: unknown, headers?: Record<string, string>) =>
  shop.request('POST', '/api/v1/orders', { token: user.token, body, ...(headers ? { headers } : {}) });

const rows = <T>(statement: ReturnType<typeof sql>) => query<T>(shop.ctx.orm.em.fork(), statement as never);

describe('placing an order', () => {
  it('answers 201 with a PENDING order whose items are snapshots, and reserves the stock', async () => {
    const productId = await createProduct(shop, seller, { price: 12_500, stock: 10, name: 'Runner 90' });
    const res = await place(buyer, { items: [{ productId, quantity: 3 }] });
    expect(res.status).toBe(201);
    const order = res.body.data;
    expect(order).toMatchObject({
      status: 'PENDING',
      state: 'PENDING.awaitingPayment',
      userId: buyer.id,
      subtotal: 37_500,
      discount: 0,
      total: 37_500,
      refundedAmount: 0,
      coupon: null,
      payment: null,
      allowedActions: ['PAY', 'CANCEL'],
      items: [{ productId, name: 'Runner 90', unitPrice: 12_500, quantity: 3, lineTotal: 37_500 }],
    });
    expect(order.orderNo).toMatch(/^\d{8}\d{8}$/);
    expect(new Date(order.expiresAt).getTime() - new Date(order.createdAt).getTime()).toBe(900_000);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 3, available: 7 });
  });

  it('numbers orders yyyyMMdd + an 8-digit daily sequence in the business time zone', async () => {
    const productId = await createProduct(shop, seller);
    const a = await place(buyer, { items: [{ productId, quantity: 1 }] });
    const b = await place(buyer, { items: [{ productId, quantity: 1 }] });
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' })
      .format(new Date())
      .replaceAll('-', '');
    expect(a.body.data.orderNo.slice(0, 8)).toBe(day);
    expect(Number(b.body.data.orderNo.slice(8))).toBeGreaterThan(Number(a.body.data.orderNo.slice(8)));
  });

  it('sums duplicate lines of one product before reserving', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const res = await place(buyer, {
      items: [
        { productId, quantity: 3 },
        { productId, quantity: 3 },
      ],
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('OUT_OF_STOCK');
    expect(res.body.details[0]).toMatchObject({ productId, requested: 6, available: 5 });
    const ok = await place(buyer, {
      items: [
        { productId, quantity: 2 },
        { productId, quantity: 3 },
      ],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.data.items).toEqual([expect.objectContaining({ productId, quantity: 5 })]);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 5, available: 0 });
  });

  it('refuses the whole order when one line is short, reserving nothing', async () => {
    const plenty = await createProduct(shop, seller, { stock: 50 });
    const scarce = await createProduct(shop, seller, { stock: 1 });
    const res = await place(buyer, {
      items: [
        { productId: plenty, quantity: 2 },
        { productId: scarce, quantity: 2 },
      ],
    });
    expect(res.status).toBe(409);
    expect(res.body.details).toEqual([expect.objectContaining({ productId: scarce, available: 1 })]);
    expect(await inventoryOf(shop, plenty)).toMatchObject({ reserved: 0 });
    expect(await inventoryOf(shop, scarce)).toMatchObject({ reserved: 0 });
    const counted = await rows<{ n: number }>(
      sql`select count(*)::int as n from order_items where product_id in (${plenty}, ${scarce})`,
    );
    expect(counted[0]!.n).toBe(0);
  });

  it('answers 409 PRODUCT_NOT_AVAILABLE for a product not on sale and 404 for an unknown one', async () => {
    const productId = await createProduct(shop, seller);
    await shop.request('PATCH', `/api/v1/products/${productId}/status`, {
      token: seller.token,
      body: { status: 'SOLD_OUT' },
    });
    const unavailable = await place(buyer, { items: [{ productId, quantity: 1 }] });
    expect(unavailable.status).toBe(409);
    expect(unavailable.body.error).toBe('PRODUCT_NOT_AVAILABLE');
    const unknown = await place(buyer, { items: [{ productId: crypto.randomUUID(), quantity: 1 }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('PRODUCT_NOT_FOUND');
  });

  it('validates the body: items or fromCart, quantities 1..999, at most 100 lines', async () => {
    const productId = await createProduct(shop, seller);
    const bad = [
      {},
      { items: [] },
      { items: [{ productId, quantity: 0 }] },
      { items: [{ productId, quantity: 1000 }] },
      { items: [{ productId, quantity: 1.5 }] },
      { items: [{ productId: 'nope', quantity: 1 }] },
      { items: [{ productId, quantity: 1 }], fromCart: true },
      { items: Array.from({ length: 101 }, () => ({ productId, quantity: 1 })) },
      { items: [{ productId, quantity: 1 }], productIds: [productId] },
      { items: 'all' },
    ];
    for (const body of bad) {
      const res = await place(buyer, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
    }
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0 });
  });

  it('needs an authenticated user', async () => {
    const res = await shop.request('POST', '/api/v1/orders', { body: { items: [] } });
    expect(res.status).toBe(401);
  });
});

describe('ordering from the cart', () => {
  it('orders all cart lines and removes them from the cart', async () => {
    const user = await shop.createUser('BUYER');
    const a = await createProduct(shop, seller, { price: 1000 });
    const b = await createProduct(shop, seller, { price: 2000 });
    for (const [productId, quantity] of [
      [a, 2],
      [b, 1],
    ] as const) {
      await shop.request('POST', '/api/v1/cart/items', { token: user.token, body: { productId, quantity } });
    }
    const res = await place(user, { fromCart: true });
    expect(res.status).toBe(201);
    expect(res.body.data.total).toBe(4000);
    const cart = await shop.request('GET', '/api/v1/cart', { token: user.token });
    expect(cart.body.data.items).toEqual([]);
  });

  it('orders only the selected lines and leaves the others', async () => {
    const user = await shop.createUser('BUYER');
    const a = await createProduct(shop, seller);
    const b = await createProduct(shop, seller);
    await shop.request('POST', '/api/v1/cart/items', {
      token: user.token,
      body: { productId: a, quantity: 1 },
    });
    await shop.request('POST', '/api/v1/cart/items', {
      token: user.token,
      body: { productId: b, quantity: 1 },
    });
    const res = await place(user, { fromCart: true, productIds: [a] });
    expect(res.status).toBe(201);
    expect(res.body.data.items.map((i: { productId: string }) => i.productId)).toEqual([a]);
    const cart = await shop.request('GET', '/api/v1/cart', { token: user.token });
    expect(cart.body.data.items.map((i: { productId: string }) => i.productId)).toEqual([b]);
  });

  it('answers 400 CART_EMPTY for an empty cart, and keeps the cart when the order is refused', async () => {
    const user = await shop.createUser('BUYER');
    const empty = await place(user, { fromCart: true });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toBe('CART_EMPTY');
    const scarce = await createProduct(shop, seller, { stock: 1 });
    await shop.request('POST', '/api/v1/cart/items', {
      token: user.token,
      body: { productId: scarce, quantity: 2 },
    });
    const refused = await place(user, { fromCart: true });
    expect(refused.status).toBe(409);
    const cart = await shop.request('GET', '/api/v1/cart', { token: user.token });
    expect(cart.body.data.items).toHaveLength(1);
  });
});

describe('Idempotency-Key on placement', () => {
  it('returns the same order for the same key and body, even when sent concurrently', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const body = { items: [{ productId, quantity: 1 }] };
    const headers = { 'idempotency-key': `key-${crypto.randomUUID()}` };
    const answers = await Promise.all(Array.from({ length: 5 }, () => place(buyer, body, headers)));
    const ids = new Set(answers.map((a) => a.body.data.id));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(ids.size).toBe(1);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 1 });
  });

  it('answers 422 IDEMPOTENCY_KEY_MISMATCH for the same key with another body', async () => {
    const productId = await createProduct(shop, seller);
    const headers = { 'idempotency-key': `key-${crypto.randomUUID()}` };
    expect((await place(buyer, { items: [{ productId, quantity: 1 }] }, headers)).status).toBe(201);
    const other = await place(buyer, { items: [{ productId, quantity: 2 }] }, headers);
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('IDEMPOTENCY_KEY_MISMATCH');
  });

  it('replays a refusal with the same key (the first answer is kept)', async () => {
    const productId = await createProduct(shop, seller, { stock: 1 });
    const headers = { 'idempotency-key': `key-${crypto.randomUUID()}` };
    const body = { items: [{ productId, quantity: 2 }] };
    expect((await place(buyer, body, headers)).status).toBe(409);
    const restock = await shop.request('POST', `/api/v1/inventory/${productId}/restock`, {
      token: seller.token,
      body: { quantity: 5 },
    });
    // There is stock for the order now: a 409 for the key can only be the first answer kept.
    expect(restock.status).toBe(200);
    expect(restock.body.data).toMatchObject({ stock: 6, available: 6 });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 6, reserved: 0, available: 6 });
    const replay = await place(buyer, body, headers);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toBe('OUT_OF_STOCK');
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0 });
    // The same order without the key is a new one, and is placed.
    expect((await place(buyer, body)).status).toBe(201);
  });

  it('scopes keys per user', async () => {
    const productId = await createProduct(shop, seller);
    const other = await shop.createUser('BUYER');
    const headers = { 'idempotency-key': 'shared-key' };
    const a = await place(buyer, { items: [{ productId, quantity: 1 }] }, headers);
    const b = await place(other, { items: [{ productId, quantity: 1 }] }, headers);
    expect(a.body.data.id).not.toBe(b.body.data.id);
  });
});

describe('reading orders', () => {
  it('lists the caller’s orders newest first with paging and a status filter', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await place(user, { items: [{ productId, quantity: 1 }] })).body.data.id);
    await shop.request('POST', `/api/v1/orders/${ids[0]}/cancel`, { token: user.token });

    const page = await shop.request('GET', '/api/v1/orders?size=2', { token: user.token });
    expect(page.status).toBe(200);
    expect(page.body.meta).toEqual({ page: 0, size: 2, totalElements: 3, totalPages: 2 });
    expect(page.body.data.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
    const cancelled = await shop.request('GET', '/api/v1/orders?status=CANCELLED', { token: user.token });
    expect(cancelled.body.data.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    expect((await shop.request('GET', '/api/v1/orders?status=LOST', { token: user.token })).status).toBe(400);
    expect((await shop.request('GET', '/api/v1/orders?size=101', { token: user.token })).status).toBe(400);
  });

  it('shows an order to its owner and to admins; anyone else gets 404', async () => {
    const productId = await createProduct(shop, seller);
    const id = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    const stranger = await shop.createUser('BUYER');
    const admin = await shop.createUser('ADMIN');
    expect((await shop.request('GET', `/api/v1/orders/${id}`, { token: buyer.token })).status).toBe(200);
    expect((await shop.request('GET', `/api/v1/orders/${id}`, { token: admin.token })).status).toBe(200);
    const hidden = await shop.request('GET', `/api/v1/orders/${id}`, { token: stranger.token });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error).toBe('ORDER_NOT_FOUND');
    expect(
      (await shop.request('GET', `/api/v1/orders/${id}/history`, { token: stranger.token })).status,
    ).toBe(404);
    expect(
      (await shop.request('POST', `/api/v1/orders/${id}/cancel`, { token: stranger.token })).status,
    ).toBe(404);
    expect(
      (await shop.request('GET', `/api/v1/orders/${crypto.randomUUID()}`, { token: buyer.token })).status,
    ).toBe(404);
    expect((await shop.request('GET', '/api/v1/orders/not-a-uuid', { token: buyer.token })).status).toBe(400);
  });

  it('never changes a past order when the product changes (price, name)', async () => {
    const productId = await createProduct(shop, seller, { price: 5000, name: 'Old name' });
    const id = (await place(buyer, { items: [{ productId, quantity: 2 }] })).body.data.id;
    const patched = await shop.request('PATCH', `/api/v1/products/${productId}`, {
      token: seller.token,
      body: { price: 9999, name: 'New name' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ price: 9999, name: 'New name' });
    expect((await shop.request('GET', `/api/v1/products/${productId}`)).body.data).toMatchObject({
      price: 9999,
      name: 'New name',
    });
    const order = (await shop.request('GET', `/api/v1/orders/${id}`, { token: buyer.token })).body.data;
    expect(order.items[0]).toMatchObject({ name: 'Old name', unitPrice: 5000, lineTotal: 10_000 });
    expect(order.total).toBe(10_000);
  });
});

describe('payment windows as time buckets', () => {
  it('twenty orders placed together hold one delayed job per due second, not one per order', async () => {
    const productId = await createProduct(shop, seller, { stock: 20 });
    const placed = await Promise.all(
      Array.from({ length: 20 }, () => place(buyer, { items: [{ productId, quantity: 1 }] })),
    );
    const orders = placed.map((res) => res.body.data as { id: string; expiresAt: string });
    expect(orders.every((o) => typeof o.id === 'string')).toBe(true);
    const dueSeconds = new Set(orders.map((o) => Math.ceil(Date.parse(o.expiresAt) / 1000)));
    const delayed = await shop.ctx.queues.orderShards[0]!.getDelayed(0, 10_000);
    const ids = new Set(orders.map((o) => o.id));
    // No delayed job names one of these orders…
    expect(
      delayed.filter((job) => ids.has(job.data?.orderId) || [...ids].some((id) => job.id?.includes(id))),
    ).toEqual([]);
    // …and every due second has exactly one bucket.
    for (const second of dueSeconds) {
      expect(delayed.filter((job) => job.id === `expire-at-${second}`)).toHaveLength(1);
    }
  });
});

describe('cancelling a PENDING order', () => {
  it('releases the reservation, records the transition and its events', async () => {
    const productId = await createProduct(shop, seller, { stock: 4 });
    const id = (await place(buyer, { items: [{ productId, quantity: 4 }] })).body.data.id;
    const res = await shop.request('POST', `/api/v1/orders/${id}/cancel`, {
      token: buyer.token,
      body: { reason: 'changed my mind' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: 'CANCELLED',
      cancelReason: 'USER_CANCELLED',
      allowedActions: [],
    });
    expect(res.body.data.cancelledAt).not.toBeNull();
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0, available: 4 });

    const history = await shop.request('GET', `/api/v1/orders/${id}/history`, { token: buyer.token });
    expect(history.body.data).toEqual([
      expect.objectContaining({
        fromStatus: null,
        toStatus: 'PENDING',
        from: null,
        to: 'PENDING.awaitingPayment',
        event: 'PLACE',
      }),
      expect.objectContaining({
        fromStatus: 'PENDING',
        toStatus: 'CANCELLED',
        from: 'PENDING.awaitingPayment',
        event: 'CANCEL',
      }),
    ]);
    const events = await rows<{ type: string; queue: string; cancel: boolean }>(
      sql`select type, queue, cancel from outbox_events where aggregate_id = ${id} order by created_at, type`,
    );
    expect(
      events
        .filter((e) => e.queue === 'events')
        .map((e) => e.type)
        .sort(),
    ).toEqual(['INVENTORY_RELEASED', 'INVENTORY_RESERVED', 'ORDER_CANCELLED', 'ORDER_CREATED'].sort());
    // The payment window is a time bucket added after commit, not an outbox row per order; leaving
    // PENDING withdraws nothing (the bucket's handler asks the machine).
    expect(events.filter((e) => e.queue === 'order')).toEqual([]);
  });

  it('answers 400 ORDER_ALREADY_CANCELLED the second time, and 409 for a confirm', async () => {
    const productId = await createProduct(shop, seller);
    const id = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    const confirm = await shop.request('POST', `/api/v1/orders/${id}/confirm`, { token: buyer.token });
    expect(confirm.status).toBe(409);
    expect(confirm.body.error).toBe('INVALID_ORDER_TRANSITION');
    await shop.request('POST', `/api/v1/orders/${id}/cancel`, { token: buyer.token });
    const again = await shop.request('POST', `/api/v1/orders/${id}/cancel`, {
      token: buyer.token,
      headers: { 'accept-language': 'ko' },
    });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: 'ORDER_ALREADY_CANCELLED', message: '이미 취소된 주문입니다' });
  });

  it('lets an admin cancel any order', async () => {
    const productId = await createProduct(shop, seller);
    const admin = await shop.createUser('ADMIN');
    const id = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    const res = await shop.request('POST', `/api/v1/orders/${id}/cancel`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('CANCELLED');
  });
});

describe('every transition has exactly one audit row', () => {
  it('placement is version 1, each later transition adds one', async () => {
    const productId = await createProduct(shop, seller);
    const admin = await shop.createUser('ADMIN');
    const placed = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    const cancelled = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    expect(
      (await shop.request('POST', `/api/v1/orders/${cancelled}/cancel`, { token: buyer.token })).status,
    ).toBe(200);
    const cancelledByAdmin = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    expect(
      (await shop.request('POST', `/api/v1/orders/${cancelledByAdmin}/cancel`, { token: admin.token }))
        .status,
    ).toBe(200);
    const ids = [placed, cancelled, cancelledByAdmin];
    const audit = await rows<{ id: string; version: number; transitions: number }>(
      sql`select o.id, o.version, (select count(*)::int from order_transitions t where t.order_id = o.id) as transitions
          from orders o where o.id = any(${ids}::uuid[]) order by o.id`,
    );
    expect(audit.map((o) => o.id)).toEqual([...ids].sort());
    expect(audit.map((o) => [o.version, o.transitions])).toEqual(
      audit.map((o) => (o.id === placed ? [1, 1] : [2, 2])),
    );
    // …and across every order in this file's database, whatever other tests did.
    const mismatched = await rows<{ id: string }>(
      sql`select o.id from orders o
          where (select count(*) from order_transitions t where t.order_id = o.id) <> o.version`,
    );
    expect(mismatched).toEqual([]);
  });
});

describe('the live machine of an order', () => {
  it('shows state value, context, allowed events and history to the owner; 404 to others', async () => {
    const productId = await createProduct(shop, seller);
    const id = (await place(buyer, { items: [{ productId, quantity: 1 }] })).body.data.id;
    const res = await shop.request('GET', `/api/v1/orders/${id}/machine`, { token: buyer.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      orderId: id,
      status: 'PENDING',
      state: 'PENDING.awaitingPayment',
      value: { PENDING: 'awaitingPayment' },
      allowedEvents: ['PAY', 'CANCEL'],
      history: [expect.objectContaining({ event: 'PLACE', to: 'PENDING.awaitingPayment' })],
    });
    expect(res.body.data.context).toMatchObject({ orderId: id, total: 10_000, paymentId: null });
    const stranger = await shop.createUser('BUYER');
    expect(
      (await shop.request('GET', `/api/v1/orders/${id}/machine`, { token: stranger.token })).status,
    ).toBe(404);
  });
});
