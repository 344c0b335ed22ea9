import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { couponGateKeys } from '../../src/coupons/coupon-gate';
import { run, sql } from '../../src/db/sql';
import { metricsApp } from '../../src/http/metrics-app';
import { observeJob } from '../../src/observability/job-observer';
import { observeGatewayLatency } from '../../src/observability/metrics';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { createCoupon, gateOf } from '../support/coupons';
import {
  createFixtureProduct,
  payFixtureOrder,
  placeFixtureOrder,
  stepFixtureOrder,
} from '../support/order-fixtures';
import { sample } from '../support/prometheus';
import { createTestShop, type TestShop } from '../support/test-shop';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

async function scrape(app = shop.app, authorization?: string) {
  const res = await app.request('/metrics', authorization ? { headers: { authorization } } : {});
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('HTTP latency is recorded per route template, method and status', () => {
  it('counts requests under the route that answered, not the raw URL', async () => {
    for (let i = 0; i < 3; i++) await shop.request('GET', '/api/v1/products');
    await shop.request('GET', `/api/v1/products/${crypto.randomUUID()}`);
    await shop.request('GET', '/no/such/route');
    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain/);
    const count = (route: string, status: string) =>
      sample(text, 'shop_http_request_duration_seconds_count', { method: 'GET', route, status });
    expect(count('/api/v1/products', '200')).toBe(3);
    expect(count('/api/v1/products/:id', '404')).toBe(1);
    expect(count('(unmatched)', '404')).toBe(1);
    expect(text).not.toMatch(/route="\/api\/v1\/products\/[0-9a-f-]{36}"/);
  });
});

describe('jobs: queue depth at scrape time, durations and outcomes as workers finish them', () => {
  let worker: RunningWorker | undefined;
  afterAll(() => worker?.close());

  it('reports waiting/active/delayed/failed per queue and times every processed job', async () => {
    await shop.ctx.queues.orderShards[0]!.add(
      'NOTICE',
      { orderId: 'a' },
      { delay: 60_000, jobId: 'metrics-delayed-1' },
    );
    await shop.ctx.queues.orderShards[0]!.add(
      'NOTICE',
      { orderId: 'b' },
      { delay: 60_000, jobId: 'metrics-delayed-2' },
    );
    await shop.ctx.queues.webhooks.add('DELIVER', { id: 'w' }, { jobId: 'metrics-waiting-1' });
    await shop.ctx.queues.events.add('PING', { ok: true }, { jobId: 'metrics-ok' });
    await shop.ctx.queues.events.add('PING', { ok: false }, { jobId: 'metrics-bad', attempts: 1 });
    worker = await startWorker(shop.ctx, 'metrics-test', {
      kind: 'queue',
      queue: 'events',
      concurrency: () => 1,
      process: async (_, job) => {
        if (!job.data.ok) throw new UnrecoverableError('refused on purpose');
        return 'done';
      },
    });
    const deadline = Date.now() + 30_000;
    let text = '';
    while (Date.now() < deadline) {
      text = (await scrape()).text;
      if ((sample(text, 'shop_queue_jobs', { queue: 'events', state: 'failed' }) ?? 0) >= 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sample(text, 'shop_queue_jobs', { queue: 'order', state: 'delayed' })).toBe(2);
    expect(sample(text, 'shop_queue_jobs', { queue: 'webhooks', state: 'waiting' })).toBe(1);
    expect(sample(text, 'shop_queue_jobs', { queue: 'events', state: 'failed' })).toBe(1);
    expect(sample(text, 'shop_queue_jobs', { queue: 'payment', state: 'active' })).toBe(0);
    expect(sample(text, 'shop_job_duration_seconds_count', { queue: 'events', outcome: 'completed' })).toBe(
      1,
    );
    expect(sample(text, 'shop_job_duration_seconds_count', { queue: 'events', outcome: 'failed' })).toBe(1);
    expect(
      sample(text, 'shop_jobs_processed_total', { queue: 'events', name: 'PING', outcome: 'failed' }),
    ).toBe(1);
    // Refused as unrecoverable: failed for good, counted as such (the alert's source).
    expect(sample(text, 'shop_jobs_given_up_total', { queue: 'events' })).toBe(1);
    expect(sample(text, 'shop_scrape_source_up', { source: 'redis' })).toBe(1);
  });

  it('counts a job given up apart from a failed attempt that will be retried', async () => {
    expect(sample((await scrape()).text, 'shop_jobs_given_up_total', { queue: 'coupon' })).toBe(0);
    observeJob('coupon', 'GIVEN_UP_PROBE', 0.01, 'failed');
    observeJob('coupon', 'GIVEN_UP_PROBE', 0.01, 'given-up');
    const { text } = await scrape();
    expect(
      sample(text, 'shop_jobs_processed_total', {
        queue: 'coupon',
        name: 'GIVEN_UP_PROBE',
        outcome: 'failed',
      }),
    ).toBe(2);
    expect(sample(text, 'shop_jobs_given_up_total', { queue: 'coupon' })).toBe(1);
  });

  it('labels an events job carrying several event types with one name, whatever their mix', async () => {
    observeJob('events', 'ORDER_PAID+PAYMENT_SUCCEEDED', 0.01, 'completed');
    observeJob('events', 'PAYMENT_SUCCEEDED+ORDER_PAID', 0.01, 'completed');
    const { text } = await scrape();
    expect(
      sample(text, 'shop_jobs_processed_total', {
        queue: 'events',
        name: 'EVENTS_BATCH',
        outcome: 'completed',
      }),
    ).toBe(2);
    expect(text).not.toContain('name="ORDER_PAID+PAYMENT_SUCCEEDED"');
  });
});

describe('orders by status and outbox health are read from PostgreSQL at scrape time', () => {
  it('reflects the orders that exist, the oldest undelivered event and ALERTED events', async () => {
    const before = (await scrape()).text;
    expect(sample(before, 'shop_orders', { status: 'PENDING' })).toBe(0);
    expect(sample(before, 'shop_outbox_lag_seconds')).toBe(0);

    const buyer = await shop.createUser('BUYER');
    const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
    await placeFixtureOrder(shop, buyer, product);
    await placeFixtureOrder(shop, buyer, product);
    await payFixtureOrder(shop, buyer, await placeFixtureOrder(shop, buyer, product));
    await stepFixtureOrder(shop, await placeFixtureOrder(shop, buyer, product), { type: 'CANCEL' });
    // No relay runs in this test: the events wait, and one is marked as having exhausted its attempts.
    await run(
      shop.ctx.orm.em.fork(),
      sql`update outbox_events set status = 'ALERTED' where id = (select id from outbox_events limit 1)`,
    );

    const { text } = await scrape();
    expect(sample(text, 'shop_orders', { status: 'PENDING' })).toBe(2);
    expect(sample(text, 'shop_orders', { status: 'PAID' })).toBe(1);
    expect(sample(text, 'shop_orders', { status: 'CANCELLED' })).toBe(1);
    expect(sample(text, 'shop_orders', { status: 'CONFIRMED' })).toBe(0);
    expect(sample(text, 'shop_outbox_lag_seconds')).toBeGreaterThan(0);
    expect(sample(text, 'shop_outbox_alerted_events')).toBe(1);
    expect(sample(text, 'shop_scrape_source_up', { source: 'postgres' })).toBe(1);
  });
});

describe('orders past their deadline (a lost timer the sweeper has not caught) are counted at scrape time', () => {
  it('counts PENDING orders past their payment window and PAID ones past auto-confirmation, with the worst delay', async () => {
    const before = (await scrape()).text;
    expect(sample(before, 'shop_orders_overdue', { status: 'PENDING' })).toBe(0);
    expect(sample(before, 'shop_orders_overdue_seconds', { status: 'PENDING' })).toBe(0);
    expect(sample(before, 'shop_orders_overdue', { status: 'PAID' })).toBe(0);

    const buyer = await shop.createUser('BUYER');
    const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
    const late = await placeFixtureOrder(shop, buyer, product);
    await placeFixtureOrder(shop, buyer, product); // inside its window
    const paid = await placeFixtureOrder(shop, buyer, product);
    await payFixtureOrder(shop, buyer, paid);
    const em = shop.ctx.orm.em.fork();
    // No worker runs here: nothing expires or confirms them.
    await run(em, sql`update orders set expires_at = now() - interval '10 minutes' where id = ${late}`);
    const confirmS = shop.config.orderAutoConfirmMs / 1000;
    await run(
      em,
      sql`update orders set paid_at = now() - make_interval(secs => ${confirmS + 120}::float8),
                            auto_confirm_at = now() - interval '120 seconds' where id = ${paid}`,
    );

    const { text } = await scrape();
    expect(sample(text, 'shop_orders_overdue', { status: 'PENDING' })).toBe(1);
    expect(sample(text, 'shop_orders_overdue_seconds', { status: 'PENDING' })).toBeGreaterThanOrEqual(600);
    expect(sample(text, 'shop_orders_overdue', { status: 'PAID' })).toBe(1);
    expect(sample(text, 'shop_orders_overdue_seconds', { status: 'PAID' })).toBeGreaterThanOrEqual(120);
  });
});

describe('coupon gate drift: Redis gates compared with PostgreSQL at scrape time', () => {
  it('is 0 for gates that agree and counts the coupons and slots by which they differ', async () => {
    const seller = await shop.createUser('SELLER');
    const agreeing = await createCoupon(shop, seller, { totalQuantity: 50 });
    const drifting = await createCoupon(shop, seller, { totalQuantity: 100 });
    expect((await gateOf(shop, agreeing.id)).remaining).toBe(50);
    expect((await gateOf(shop, drifting.id)).remaining).toBe(100);
    const before = (await scrape()).text;
    expect(sample(before, 'shop_coupon_gates_drifted')).toBe(0);
    expect(sample(before, 'shop_coupon_gate_drift_slots')).toBe(0);

    await shop.ctx.redis.set(couponGateKeys(shop.ctx, drifting.id).remaining, 97);
    const { text } = await scrape();
    expect(sample(text, 'shop_coupon_gates_drifted')).toBe(1);
    expect(sample(text, 'shop_coupon_gate_drift_slots')).toBe(3);
  });
});

describe('gateway latency', () => {
  it('records what the payments code reports through observeGatewayLatency, by operation and outcome', async () => {
    observeGatewayLatency(0.2, 'capture', 'ok');
    observeGatewayLatency(3.5, 'capture', 'timeout');
    const { text } = await scrape();
    const capture = (outcome: string) => ({ operation: 'capture', outcome });
    expect(sample(text, 'shop_gateway_request_duration_seconds_count', capture('ok'))).toBe(1);
    expect(sample(text, 'shop_gateway_request_duration_seconds_sum', capture('timeout'))).toBe(3.5);
  });
});

describe('access to /metrics', () => {
  it('is open without METRICS_TOKEN and needs the token as a bearer when it is set', async () => {
    expect((await scrape()).status).toBe(200);
    const token = 'scrape-secret-0123456789';
    const guarded = createApp({ ...shop.ctx, config: { ...shop.config, metricsToken: token } });
    expect((await scrape(guarded)).status).toBe(401);
    expect((await scrape(guarded, 'Bearer not-the-token')).status).toBe(401);
    expect((await scrape(guarded, `Bearer ${token}`)).status).toBe(200);
  });

  it('is also served alone for worker-only processes', async () => {
    const res = await metricsApp(shop.ctx).request('/metrics');
    expect(res.status).toBe(200);
    expect(sample(await res.text(), 'shop_orders', { status: 'PAID' })).toBeDefined();
  });
});
