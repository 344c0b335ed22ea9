import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../support/catalog';
import { placeOrder } from '../support/orders';
import { sample } from '../support/prometheus';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '5' });
});
afterAll(() => shop?.close());

const scrape = async () => (await shop.request('GET', '/metrics')).body as string;
const value = (text: string, name: string, labels: Record<string, string> = {}) =>
  sample(text, name, labels) ?? 0;

describe('/metrics after a real checkout (issue 7)', () => {
  it('counts the requests, the jobs, the gateway call and the paid order', async () => {
    const before = await scrape();
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { price: 7000 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 2 }]);
    const paid = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': `metrics-${order.id}` },
      body: { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' },
    });
    expect(paid.status).toBe(202);
    await eventually(async () => {
      const res = await shop.request('GET', `/api/v1/orders/${order.id}`, { token: buyer.token });
      return res.body.data.status === 'PAID';
    });
    // The paid order's events are delivered and consumed (outbox lag back to 0).
    const after = await eventually(async () => {
      const text = await scrape();
      return value(text, 'shop_outbox_lag_seconds') === 0 &&
        value(text, 'shop_orders', { status: 'PAID' }) >= 1
        ? text
        : undefined;
    });

    const moved = (name: string, labels: Record<string, string>) =>
      value(after!, name, labels) - value(before, name, labels);
    expect(
      moved('shop_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/orders',
        status: '201',
      }),
    ).toBe(1);
    expect(
      moved('shop_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/payments',
        status: '202',
      }),
    ).toBe(1);
    expect(moved('shop_jobs_processed_total', { queue: 'order', name: 'PLACE', outcome: 'completed' })).toBe(
      1,
    );
    expect(moved('shop_jobs_processed_total', { queue: 'order', name: 'PAY', outcome: 'completed' })).toBe(1);
    expect(
      moved('shop_jobs_processed_total', { queue: 'payment', name: 'CAPTURE', outcome: 'completed' }),
    ).toBe(1);
    expect(
      moved('shop_gateway_request_duration_seconds_count', { operation: 'capture', outcome: 'ok' }),
    ).toBe(1);
    expect(value(after!, 'shop_orders', { status: 'PAID' })).toBe(1);
    expect(
      value(after!, 'shop_job_duration_seconds_count', { queue: 'events', outcome: 'completed' }),
    ).toBeGreaterThan(0);
  });
});
