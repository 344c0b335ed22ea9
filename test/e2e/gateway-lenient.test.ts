import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../support/catalog';
import { placeOrder } from '../support/orders';
import {
  gatewayChargesOf,
  getOrder,
  moneyHeldFor,
  pay,
  refund,
  waitForOrder,
  waitForRefund,
  withoutGatewaySafeguards,
} from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// SPEC §8.2 (one capture per payment, refunds ≤ the payment) held by the shop itself: this gateway
// dedupes nothing and checks nothing, so every capture or refund the shop asks for moves money.
// Each gateway call times out (100 ms) before the gateway acts (200 ms, half its latency), so every
// capture and refund is retried (after 1 s) although the first call did move the money.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'all',
    MOCK_GATEWAY_MODE: 'lenient',
    PAYMENT_GATEWAY_LATENCY_MS: '400',
    PAYMENT_GATEWAY_TIMEOUT_MS: '100',
    PAYMENT_RETRY_BASE_MS: '1000',
    PAYMENT_MAX_ATTEMPTS: '3',
  });
  await withoutGatewaySafeguards(shop);
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

async function paidOrder(price: number) {
  const productId = await createProduct(shop, seller, { price, stock: 10 });
  const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
  const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD' });
  expect(res.status).toBe(202);
  const paid = await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID', 30_000);
  return { orderId: order.id, paymentId: res.body.data.id as string, total: paid.total as number };
}

describe('a capture whose call timed out but which the gateway carried out', () => {
  it('is not taken again by the retry: one CAPTURE, the order PAID holding its total', async () => {
    const { orderId, total } = await paidOrder(30_000);
    expect((await gatewayChargesOf(shop, orderId)).map((c) => [c.kind, c.amount])).toEqual([
      ['CAPTURE', total],
    ]);
    expect(await moneyHeldFor(shop, orderId)).toBe(total);
  });
});

describe('payments against a gateway that would capture anything', () => {
  it('ten concurrent card payments of one order: one accepted, one CAPTURE', async () => {
    const productId = await createProduct(shop, seller, { price: 20_000, stock: 10 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => pay(shop, buyer, { orderId: order.id, method: 'CARD' })),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(9);
    await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID', 30_000);
    expect((await gatewayChargesOf(shop, order.id)).map((c) => [c.kind, c.amount])).toEqual([
      ['CAPTURE', 20_000],
    ]);
  });
});

describe('refunds against a gateway that would refund anything', () => {
  it('a refund whose call timed out but which the gateway carried out is not repeated', async () => {
    const { orderId, paymentId } = await paidOrder(30_000);
    const res = await refund(shop, buyer, { paymentId, amount: 10_000 });
    expect(res.status).toBe(202);
    await waitForRefund(shop, buyer, res.body.data.id, 30_000);
    expect((await gatewayChargesOf(shop, orderId)).map((c) => [c.kind, c.amount])).toEqual([
      ['CAPTURE', 30_000],
      ['REFUND', 10_000],
    ]);
    expect(await moneyHeldFor(shop, orderId)).toBe(20_000);
  });

  it('concurrent refunds above the payment: the shop accepts only what fits, the gateway refunds no more', async () => {
    const { orderId, paymentId } = await paidOrder(30_000);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => refund(shop, buyer, { paymentId, amount: 12_000 })),
    );
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted).toHaveLength(2);
    for (const refused of answers.filter((a) => a.status !== 202))
      expect([refused.status, refused.body.error]).toEqual([400, 'REFUND_EXCEEDS_PAYMENT']);
    for (const a of accepted) await waitForRefund(shop, buyer, a.body.data.id, 30_000);
    const refunds = (await gatewayChargesOf(shop, orderId)).filter((c) => c.kind === 'REFUND');
    expect(refunds.map((r) => r.amount)).toEqual([12_000, 12_000]);
    expect(new Set(refunds.map((r) => r.refund_id)).size).toBe(2);
    expect(await moneyHeldFor(shop, orderId)).toBe(6_000);
    expect((await getOrder(shop, buyer, orderId)).refundedAmount).toBe(24_000);
  });
});
