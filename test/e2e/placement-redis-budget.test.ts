import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { redisCommandsDuring, totalOf } from '../support/redis-monitor';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 11: the Redis commands a placement costs, from the HTTP request to its answer (stock gate
// take, mailbox job added, taken and finished, the gate settled, the reply, cache invalidation and
// relay wake-up), counted with MONITOR on this file's own key prefix — commands run inside BullMQ's
// Lua scripts included, as INFO commandstats counts them. The outbox relay is not running: its
// deliveries are measured by the bench, not here. Upper bounds on counts: a regression that makes
// each order its own job again fails CI, and so does one that brings back BullMQ's fetches that find
// nothing (src/messaging/quiet-fetch.ts) or the job's events in the queue's event stream
// (src/messaging/event-stream.ts), which a lone order's job pays in full.
let shop: TestShop;
let seller: TestUser;
let workers: RunningWorkers;

beforeAll(async () => {
  // No order sweep in the windows counted (the test shop's default ticks every second).
  shop = await createTestShop({ WORKERS: 'none', ORDER_SWEEP_INTERVAL_MS: '3600000' });
  seller = await shop.createUser('SELLER');
  workers = await startWorkers(shop.ctx, 'order');
});
afterAll(async () => {
  await workers?.close();
  await shop?.close();
});

describe('Redis commands per placement', () => {
  it('16 placements at once: at most 25 Redis commands each, all answered 201', async () => {
    const products = await Promise.all([1, 2, 3, 4].map(() => createProduct(shop, seller, { stock: 1000 })));
    const buyers = await Promise.all(Array.from({ length: 16 }, () => shop.createUser('BUYER')));
    // Warm: the stock gate knows the products, the day's order sequence exists.
    await Promise.all(
      products.map((productId, i) =>
        shop.request('POST', '/api/v1/orders', {
          token: buyers[i]!.token,
          body: { items: [{ productId, quantity: 1 }] },
        }),
      ),
    );
    let statuses: number[] = [];
    const counts = await redisCommandsDuring(shop, async () => {
      const answers = await Promise.all(
        buyers.map((buyer, i) =>
          shop.request('POST', '/api/v1/orders', {
            token: buyer.token,
            body: { items: [{ productId: products[i % products.length]!, quantity: 1 }] },
          }),
        ),
      );
      statuses = answers.map((a) => a.status);
    });
    expect(statuses).toEqual(buyers.map(() => 201));
    const total = totalOf(counts);
    const perOrder = total / buyers.length;
    console.info(
      `Redis commands per placement: ${perOrder.toFixed(1)} (${JSON.stringify(Object.fromEntries(counts))})`,
    );
    expect(perOrder).toBeLessThanOrEqual(25);
  });

  it('placements one at a time, each its own PLACE job: at most 45 Redis commands each', async () => {
    const productId = await createProduct(shop, seller, { stock: 1000 });
    const buyer = await shop.createUser('BUYER');
    const place = () =>
      shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 1 }] },
      });
    expect((await place()).status).toBe(201);
    const orders = 10;
    const statuses: number[] = [];
    const counts = await redisCommandsDuring(shop, async () => {
      for (let i = 0; i < orders; i++) statuses.push((await place()).status);
    });
    expect(statuses).toEqual(Array.from({ length: orders }, () => 201));
    const perOrder = totalOf(counts) / orders;
    console.info(
      `Redis commands per lone placement: ${perOrder.toFixed(1)} (${JSON.stringify(Object.fromEntries(counts))})`,
    );
    expect(perOrder).toBeLessThanOrEqual(45);
  });
});
