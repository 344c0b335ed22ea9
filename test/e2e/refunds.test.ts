import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { markPaid, placeOrder } from '../support/orders';
import {
  balanceOf,
  getOrder,
  ledgerOf,
  moneyHeldFor,
  newKey,
  pay,
  refund,
  rows,
  waitForOrder,
  waitForRefund,
} from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'all',
    PAYMENT_GATEWAY_LATENCY_MS: '4',
    // Room for a call on a loaded box: tok_flaky's third try must answer within it (150 ms failed
    // that in CI once), while tok_timeout still ends FAILED after its three tries in about 3 s.
    PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
    PAYMENT_RETRY_BASE_MS: '20',
  });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER', { balance: 1_000_000 });
});
afterAll(() => shop?.close());

/** An order of 3 × 10,000 from a product of 10 units, paid and settled: stock is then 7. */
async function paidOrder(user: TestUser = buyer, method: 'CARD' | 'BALANCE' = 'CARD', cardToken?: string) {
  const productId = await createProduct(shop, seller, { price: 10_000, stock: 10 });
  const order = await placeOrder(shop, user, [{ productId, quantity: 3 }]);
  const res = await pay(shop, user, { orderId: order.id, method, ...(cardToken ? { cardToken } : {}) });
  expect(res.status).toBe(202);
  const paid = await waitForOrder(shop, user, order.id);
  expect(paid.status).toBe('PAID');
  return { productId, orderId: order.id, paymentId: res.body.data.id as string };
}

const paymentOf = async (user: TestUser, id: string) =>
  (await shop.request('GET', `/api/v1/payments/${id}`, { token: user.token })).body.data;

describe('partial then full refunds of a PAID order', () => {
  it('a partial refund keeps the order PAID and restocks nothing; the rest refunds, restocks and cancels it', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    const partial = await refund(shop, buyer, { paymentId, amount: 10_000, reason: 'one arrived broken' });
    expect(partial.status).toBe(202);
    expect(partial.body.data).toMatchObject({
      paymentId,
      orderId,
      amount: 10_000,
      restock: true,
      reason: 'one arrived broken',
    });
    expect(await waitForRefund(shop, buyer, partial.body.data.id)).toMatchObject({ status: 'REFUNDED' });
    expect(await paymentOf(buyer, paymentId)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedAmount: 10_000,
    });
    const stillPaid = await getOrder(shop, buyer, orderId);
    expect(stillPaid).toMatchObject({
      status: 'PAID',
      refundedAmount: 10_000,
      payment: { status: 'PARTIALLY_REFUNDED' },
    });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 7, reserved: 0 });

    const rest = await refund(shop, buyer, { paymentId });
    expect(rest.status).toBe(202);
    expect(rest.body.data).toMatchObject({ amount: 20_000, restock: true });
    await waitForRefund(shop, buyer, rest.body.data.id);
    const cancelled = await waitForOrder(shop, buyer, orderId, (o) => o.status === 'CANCELLED');
    expect(cancelled).toMatchObject({ cancelReason: 'REFUNDED', refundedAmount: 30_000, allowedActions: [] });
    expect(await paymentOf(buyer, paymentId)).toMatchObject({ status: 'REFUNDED', refundedAmount: 30_000 });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 0 });
    expect((await ledgerOf(shop, orderId)).map((l) => [l.kind, l.amount])).toEqual([
      ['CAPTURE', 30_000],
      ['REFUND', 10_000],
      ['REFUND', 20_000],
    ]);
    expect(await moneyHeldFor(shop, orderId)).toBe(0);

    // API.md: nothing is left of the payment, so any further refund exceeds it.
    const more = await refund(shop, buyer, { paymentId, amount: 1 });
    expect([more.status, more.body.error]).toEqual([400, 'REFUND_EXCEEDS_PAYMENT']);
    const rest2 = await refund(shop, buyer, { paymentId });
    expect([rest2.status, rest2.body.error]).toEqual([400, 'REFUND_EXCEEDS_PAYMENT']);
  });

  it("an admin's full refund with restock: false cancels the order but leaves the units sold", async () => {
    const admin = await shop.createUser('ADMIN');
    const { productId, orderId, paymentId } = await paidOrder();
    const full = await refund(shop, admin, { paymentId, restock: false });
    expect(full.body.data).toMatchObject({ restock: false });
    await waitForRefund(shop, admin, full.body.data.id);
    const cancelled = await waitForOrder(shop, buyer, orderId, (o) => o.status === 'CANCELLED');
    expect(cancelled.cancelReason).toBe('REFUNDED');
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 7, reserved: 0 });
  });

  it("a buyer's restock: false is not theirs to choose: their full refund returns the units", async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    const full = await refund(shop, buyer, { paymentId, restock: false });
    expect(full.body.data).toMatchObject({ restock: true });
    await waitForRefund(shop, buyer, full.body.data.id);
    await waitForOrder(shop, buyer, orderId, (o) => o.status === 'CANCELLED');
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 0 });
  });

  it('refuses a refund above what is left (400 REFUND_EXCEEDS_PAYMENT), counting refunds still in flight', async () => {
    const { orderId, paymentId } = await paidOrder();
    const tooMuch = await refund(shop, buyer, { paymentId, amount: 30_001 });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toBe('REFUND_EXCEEDS_PAYMENT');
    const [a, b] = await Promise.all([
      refund(shop, buyer, { paymentId, amount: 20_000 }),
      refund(shop, buyer, { paymentId, amount: 20_000 }),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 400]);
    expect([a, b].find((r) => r.status === 400)!.body.error).toBe('REFUND_EXCEEDS_PAYMENT');
    await waitForRefund(shop, buyer, [a, b].find((r) => r.status === 202)!.body.data.id);
    expect((await refund(shop, buyer, { paymentId, amount: 10_001 })).body.error).toBe(
      'REFUND_EXCEEDS_PAYMENT',
    );
    expect(await getOrder(shop, buyer, orderId)).toMatchObject({ status: 'PAID', refundedAmount: 20_000 });
  });

  it('refunds a tok_flaky card through the gateway’s transient failures', async () => {
    const { orderId, paymentId } = await paidOrder(buyer, 'CARD', 'tok_flaky');
    const partial = await refund(shop, buyer, { paymentId, amount: 5_000 });
    expect(await waitForRefund(shop, buyer, partial.body.data.id)).toMatchObject({ status: 'REFUNDED' });
    const [row] = await rows<{ attempts: number }>(
      shop,
      sql`select attempts from refunds where id = ${partial.body.data.id}`,
    );
    expect(row!.attempts).toBe(3);
    expect(await moneyHeldFor(shop, orderId)).toBe(25_000);
  });
});

describe('refunds of a CONFIRMED order', () => {
  it("keep it CONFIRMED; the units return only when the completing refund is an admin's asking for restock", async () => {
    const admin = await shop.createUser('ADMIN');
    const { productId, orderId, paymentId } = await paidOrder();
    const confirmed = await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.data).toMatchObject({ status: 'CONFIRMED', allowedActions: ['REFUND'] });

    const partial = await refund(shop, buyer, { paymentId, amount: 10_000 });
    expect(partial.body.data.restock).toBe(false);
    await waitForRefund(shop, buyer, partial.body.data.id);
    const rest = await refund(shop, admin, { paymentId, restock: true });
    await waitForRefund(shop, admin, rest.body.data.id);
    const order = await waitForOrder(shop, buyer, orderId, (o) => o.refundedAmount === 30_000);
    expect(order).toMatchObject({ status: 'CONFIRMED', allowedActions: [] });
    expect(await paymentOf(buyer, paymentId)).toMatchObject({ status: 'REFUNDED' });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10 });
  });

  it('a buyer keeps what they confirmed: their restock: true is ignored and the units stay sold', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    const full = await refund(shop, buyer, { paymentId, restock: true });
    expect(full.body.data).toMatchObject({ amount: 30_000, restock: false });
    await waitForRefund(shop, buyer, full.body.data.id);
    expect(await waitForOrder(shop, buyer, orderId, (o) => o.refundedAmount === 30_000)).toMatchObject({
      status: 'CONFIRMED',
    });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 7 });
  });

  it('a full refund with the default (restock: false) leaves the units sold', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    const full = await refund(shop, buyer, { paymentId });
    expect(full.body.data).toMatchObject({ amount: 30_000, restock: false });
    await waitForRefund(shop, buyer, full.body.data.id);
    expect(await waitForOrder(shop, buyer, orderId, (o) => o.refundedAmount === 30_000)).toMatchObject({
      status: 'CONFIRMED',
    });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 7 });
  });
});

describe('cancelling a PAID order', () => {
  it('answers 202 while the full refund runs, then the order is CANCELLED and restocked', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    const res = await shop.request('POST', `/api/v1/orders/${orderId}/cancel`, {
      token: buyer.token,
      body: { reason: 'changed my mind' },
    });
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ id: orderId, status: 'PAID', state: 'PAID.cancelling' });
    const cancelled = await waitForOrder(shop, buyer, orderId, (o) => o.status === 'CANCELLED');
    expect(cancelled).toMatchObject({ cancelReason: 'USER_CANCELLED', refundedAmount: 30_000 });
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 0 });
    expect(await paymentOf(buyer, paymentId)).toMatchObject({ status: 'REFUNDED', refundedAmount: 30_000 });
    const [row] = await rows<{ reason: string; restock: boolean; status: string }>(
      shop,
      sql`select reason, restock, status from refunds where payment_id = ${paymentId}`,
    );
    expect(row).toEqual({ reason: 'changed my mind', restock: true, status: 'REFUNDED' });
    expect(await moneyHeldFor(shop, orderId)).toBe(0);
  });

  it('returns a BALANCE payment to the balance', async () => {
    const user = await shop.createUser('BUYER', { balance: 40_000 });
    const { orderId, paymentId } = await paidOrder(user, 'BALANCE');
    expect(await balanceOf(shop, user.id)).toBe(10_000);
    expect(
      (await shop.request('POST', `/api/v1/orders/${orderId}/cancel`, { token: user.token })).status,
    ).toBe(202);
    await waitForOrder(shop, user, orderId, (o) => o.status === 'CANCELLED');
    expect(await balanceOf(shop, user.id)).toBe(40_000);
    const ledger = await rows<{ kind: string; amount: string }>(
      shop,
      sql`select kind, amount from balance_transactions where user_id = ${user.id} order by created_at`,
    );
    expect(ledger.map((l) => [l.kind, Number(l.amount)])).toEqual([
      ['PAYMENT', -30_000],
      ['REFUND', 30_000],
    ]);
    expect(await paymentOf(user, paymentId)).toMatchObject({ status: 'REFUNDED' });
    expect(await ledgerOf(shop, orderId)).toEqual([]);
  });
});

describe('BALANCE refunds', () => {
  it('a partial refund credits the balance once', async () => {
    const user = await shop.createUser('BUYER', { balance: 30_000 });
    const { paymentId } = await paidOrder(user, 'BALANCE');
    const partial = await refund(shop, user, { paymentId, amount: 4_000 });
    await waitForRefund(shop, user, partial.body.data.id);
    expect(await balanceOf(shop, user.id)).toBe(4_000);
    expect(await paymentOf(user, paymentId)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedAmount: 4_000,
    });
  });
});

describe('POST /refunds: request rules and error codes', () => {
  it('needs an Idempotency-Key and a well-formed body', async () => {
    const { paymentId } = await paidOrder();
    const missing = await refund(shop, buyer, { paymentId }, null);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('IDEMPOTENCY_KEY_REQUIRED');
    const bad: Record<string, unknown>[] = [
      {},
      { paymentId: 'nope' },
      { paymentId, amount: 0 },
      { paymentId, amount: -5 },
      { paymentId, amount: 1.5 },
      { paymentId, amount: '100' },
      { paymentId, restock: 'yes' },
      { paymentId, reason: 'x'.repeat(501) },
    ];
    for (const body of bad) {
      const res = await refund(shop, buyer, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
    }
  });

  it('replays with 200 for the same key and body, 422 for another body, and keeps a first refusal', async () => {
    const { paymentId } = await paidOrder();
    const key = newKey();
    const first = await refund(shop, buyer, { paymentId, amount: 1_000 }, key);
    expect(first.status).toBe(202);
    const replay = await refund(shop, buyer, { paymentId, amount: 1_000 }, key);
    expect(replay.status).toBe(200);
    expect(replay.body.data.id).toBe(first.body.data.id);
    expect((await refund(shop, buyer, { paymentId, amount: 2_000 }, key)).status).toBe(422);
    const refusedKey = newKey();
    expect((await refund(shop, buyer, { paymentId, amount: 999_999 }, refusedKey)).status).toBe(400);
    const refusedAgain = await refund(shop, buyer, { paymentId, amount: 999_999 }, refusedKey);
    expect(refusedAgain.status).toBe(400);
    expect(refusedAgain.body.error).toBe('REFUND_EXCEEDS_PAYMENT');
    const refunds = await rows<{ n: number }>(
      shop,
      sql`select count(*)::int as n from refunds where payment_id = ${paymentId}`,
    );
    expect(refunds[0]!.n).toBe(1);
  });

  it('another user gets 404; an admin may refund any payment; refunds are readable by buyer and admin only', async () => {
    const { paymentId } = await paidOrder();
    const stranger = await shop.createUser('BUYER');
    const hidden = await refund(shop, stranger, { paymentId, amount: 100 });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error).toBe('PAYMENT_NOT_FOUND');
    expect((await refund(shop, buyer, { paymentId: crypto.randomUUID() })).status).toBe(404);
    const admin = await shop.createUser('ADMIN');
    const byAdmin = await refund(shop, admin, { paymentId, amount: 100, reason: 'goodwill' });
    expect(byAdmin.status).toBe(202);
    const id = byAdmin.body.data.id;
    expect((await shop.request('GET', `/api/v1/refunds/${id}`, { token: buyer.token })).status).toBe(200);
    expect((await shop.request('GET', `/api/v1/refunds/${id}`, { token: admin.token })).status).toBe(200);
    const strangerRead = await shop.request('GET', `/api/v1/refunds/${id}`, { token: stranger.token });
    expect(strangerRead.status).toBe(404);
    expect(strangerRead.body.error).toBe('NOT_FOUND');
    expect((await shop.request('GET', '/api/v1/refunds/nope', { token: buyer.token })).status).toBe(400);
    await waitForRefund(shop, buyer, id);
  });

  it('answers 409 INVALID_ORDER_TRANSITION for a payment that failed or is still in flight', async () => {
    const productId = await createProduct(shop, seller);
    const declined = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const failed = await pay(shop, buyer, {
      orderId: declined.id,
      method: 'CARD',
      cardToken: 'tok_declined',
    });
    await waitForOrder(shop, buyer, declined.id);
    const res = await refund(shop, buyer, { paymentId: failed.body.data.id });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('INVALID_ORDER_TRANSITION');

    const slow = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const inFlight = await pay(shop, buyer, { orderId: slow.id, method: 'CARD', cardToken: 'tok_timeout' });
    const early = await refund(shop, buyer, { paymentId: inFlight.body.data.id });
    expect(early.status).toBe(409);
    expect(early.body.error).toBe('INVALID_ORDER_TRANSITION');
    await waitForOrder(shop, buyer, slow.id);
  });
});

describe('a refund the gateway refuses', () => {
  it('is given up (MANUAL) without moving money; a cancellation waiting on it returns the order to PAID', async () => {
    // Paid through the order's own steps only: the gateway never captured, so it refuses to refund.
    const productId = await createProduct(shop, seller, { price: 5_000, stock: 5 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const paymentId = await markPaid(shop, buyer, order.id, order.total);
    const partial = await refund(shop, buyer, { paymentId, amount: 1_000 });
    expect(await waitForRefund(shop, buyer, partial.body.data.id)).toMatchObject({ status: 'MANUAL' });
    expect(await getOrder(shop, buyer, order.id)).toMatchObject({
      status: 'PAID',
      refundedAmount: 0,
      allowedActions: ['CANCEL', 'CONFIRM', 'REFUND'],
    });

    const cancel = await shop.request('POST', `/api/v1/orders/${order.id}/cancel`, { token: buyer.token });
    expect(cancel.status).toBe(202);
    const back = await waitForOrder(shop, buyer, order.id, (o) => o.state === 'PAID.active');
    expect(back).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    const refunds = await rows<{ status: string }>(
      shop,
      sql`select status from refunds where payment_id = ${paymentId} order by created_at`,
    );
    expect(refunds.map((r) => r.status)).toEqual(['MANUAL', 'MANUAL']);
    expect(await ledgerOf(shop, order.id)).toEqual([]);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 4 });
  });
});

describe('confirmation', () => {
  it('POST /orders/{id}/confirm moves a PAID order to CONFIRMED; confirming twice is 409', async () => {
    const { orderId } = await paidOrder();
    const res = await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('CONFIRMED');
    expect(res.body.data.confirmedAt).not.toBeNull();
    const again = await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('INVALID_ORDER_TRANSITION');
    const cancel = await shop.request('POST', `/api/v1/orders/${orderId}/cancel`, { token: buyer.token });
    expect(cancel.status).toBe(409);
  });
});

describe('auto-confirmation', () => {
  let fast: TestShop;
  beforeAll(async () => {
    fast = await createTestShop({ WORKERS: 'all', ORDER_AUTO_CONFIRM_MS: '700' });
  });
  afterAll(() => fast?.close());

  it('confirms a PAID order after ORDER_AUTO_CONFIRM_MS through the machine’s delay', async () => {
    const s = await fast.createUser('SELLER');
    const b = await fast.createUser('BUYER');
    const productId = await createProduct(fast, s);
    const order = await placeOrder(fast, b, [{ productId, quantity: 1 }]);
    expect((await pay(fast, b, { orderId: order.id, method: 'CARD' })).status).toBe(202);
    const confirmed = await waitForOrder(fast, b, order.id, (o) => o.status === 'CONFIRMED');
    expect(
      new Date(confirmed.confirmedAt).getTime() - new Date(confirmed.paidAt).getTime(),
    ).toBeGreaterThanOrEqual(650);
    const history = await fast.request('GET', `/api/v1/orders/${order.id}/history`, { token: b.token });
    expect(history.body.data.map((h: { event: string }) => h.event)).toEqual([
      'PLACE',
      'PAY',
      'PAYMENT_SUCCEEDED',
      'AUTO_CONFIRM',
    ]);
  });
});

describe('reviews of a purchase refunded in full', () => {
  const review = (user: TestUser, productId: string, rating: number) =>
    shop.request('POST', `/api/v1/products/${productId}/reviews`, { token: user.token, body: { rating } });
  const ratingOf = async (productId: string) =>
    (await shop.request('GET', `/api/v1/products/${productId}`)).body.data.rating;
  const reviewsOf = async (productId: string) =>
    (await shop.request('GET', `/api/v1/products/${productId}/reviews`)).body.data;

  it('are withdrawn with the refund that cancels a paid order, and the purchase can be reviewed no more', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    const other = await shop.createUser('BUYER', { balance: 1_000_000 });
    const kept = await placeOrder(shop, other, [{ productId, quantity: 1 }]);
    await pay(shop, other, { orderId: kept.id, method: 'BALANCE' });
    await waitForOrder(shop, other, kept.id, (o) => o.status === 'PAID');
    expect((await review(other, productId, 5)).status).toBe(201);
    expect((await review(buyer, productId, 1)).status).toBe(201);
    expect(await ratingOf(productId)).toEqual({ average: 3, count: 2 });

    const full = await refund(shop, buyer, { paymentId });
    await waitForRefund(shop, buyer, full.body.data.id);
    await waitForOrder(shop, buyer, orderId, (o) => o.status === 'CANCELLED');
    expect(await ratingOf(productId)).toEqual({ average: 5, count: 1 });
    expect((await reviewsOf(productId)).map((r: { userId: string }) => r.userId)).toEqual([other.id]);
    expect((await review(buyer, productId, 1)).status).toBe(403);
  });

  it('are withdrawn when a CONFIRMED order is refunded in full, which then stays CONFIRMED but unreviewable', async () => {
    const { productId, orderId, paymentId } = await paidOrder();
    await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token });
    expect((await review(buyer, productId, 1)).status).toBe(201);
    const partial = await refund(shop, buyer, { paymentId, amount: 10_000 });
    await waitForRefund(shop, buyer, partial.body.data.id);
    // A partial refund leaves the purchase standing.
    expect(await ratingOf(productId)).toEqual({ average: 1, count: 1 });
    const rest = await refund(shop, buyer, { paymentId });
    await waitForRefund(shop, buyer, rest.body.data.id);
    await waitForOrder(shop, buyer, orderId, (o) => o.refundedAmount === 30_000);
    expect(await ratingOf(productId)).toEqual({ average: 0, count: 0 });
    expect(await reviewsOf(productId)).toEqual([]);
    const again = await review(buyer, productId, 1);
    expect([again.status, again.body.error]).toEqual([403, 'FORBIDDEN']);
  });
});
