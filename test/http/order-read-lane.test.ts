import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withNodeOrderReadLane } from '../../src/http/order-read-lane';
import { createProduct } from '../support/catalog';
import {
  expectSameAnswer,
  histogramCount,
  type LaneBench,
  type NodeLane,
  type SendOptions,
  send,
  startLaneBench,
  withToken,
} from '../support/lanes';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// GET /orders/{id} answered on Node's own request in front of the router, with the router's answer
// byte for byte; everything the lane is not sure of is the router's.

const lane: NodeLane = (ctx, metrics, next) => withNodeOrderReadLane(ctx, metrics, next);

let shop: TestShop;
let bench: LaneBench;
let buyer: TestUser;
let other: TestUser;
let admin: TestUser;
let orderId: string;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  bench = await startLaneBench(shop, { node: lane });
  let seller: TestUser;
  [seller, buyer, other, admin] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
    shop.createUser('BUYER'),
    shop.createUser('ADMIN'),
  ]);
  const productId = await createProduct(shop, seller, { stock: 10, price: 2_500 });
  orderId = (await placeOrder(shop, buyer, [{ productId, quantity: 2 }])).id;
});
afterAll(async () => {
  await bench?.close();
  await shop?.close();
});

/** The same request to the lane and to the router alone; the two answers and whether the lane handed it on. */
async function both(path: string, options: SendOptions) {
  const before = bench.routed();
  const laneAnswer = await send(bench.lanePort, 'GET', path, options);
  const handedOn = bench.routed() - before;
  const router = await send(bench.routerPort, 'GET', path, options);
  return { lane: laneAnswer, router, handedOn };
}

describe('GET /orders/{id} in front of the router', () => {
  it("answers the owner's and an admin's reads, and refuses anyone else's, as the router does", async () => {
    const cases: [string, SendOptions, number][] = [
      ['the owner', { headers: withToken(buyer, { 'x-request-id': 'read-1' }) }, 200],
      ['an admin', { headers: withToken(admin, { 'x-request-id': 'read-2' }) }, 200],
      [
        'another buyer',
        { headers: withToken(other, { 'x-request-id': 'read-3', 'accept-language': 'ko' }) },
        404,
      ],
    ];
    for (const [who, options, status] of cases) {
      const { lane: answer, router, handedOn } = await both(`/api/v1/orders/${orderId}`, options);
      expect(handedOn, who).toBe(0);
      expect(answer.status, who).toBe(status);
      expectSameAnswer(answer, router, who);
    }
    const unknown = await both(`/api/v1/orders/${crypto.randomUUID()}`, {
      headers: withToken(buyer, { 'x-request-id': 'read-4' }),
    });
    expect(unknown.handedOn).toBe(0);
    expect(unknown.lane.status).toBe(404);
    expectSameAnswer(unknown.lane, unknown.router, 'an unknown order');
    const read = JSON.parse(
      (await send(bench.lanePort, 'GET', `/api/v1/orders/${orderId}`, withTokenOnly())).body,
    );
    expect(read.data).toMatchObject({ id: orderId, userId: buyer.id, status: 'PENDING', total: 5_000 });
  });

  it('counts its answers in the route\u2019s histogram series', async () => {
    const series = { method: 'GET', route: '/api/v1/orders/:id', status: '200' };
    const before = histogramCount(await bench.laneMetrics.registry.metrics(), series);
    await send(bench.lanePort, 'GET', `/api/v1/orders/${orderId}`, withTokenOnly());
    expect(histogramCount(await bench.laneMetrics.registry.metrics(), series)).toBe(before + 1);
    // The router's own answers land in the same series (one per route on the dashboards).
    const routerBefore = histogramCount(await bench.routerMetricsText(), series);
    await send(bench.routerPort, 'GET', `/api/v1/orders/${orderId}`, withTokenOnly());
    expect(histogramCount(await bench.routerMetricsText(), series)).toBe(routerBefore + 1);
  });

  it('hands the router everything else, which answers as it always did', async () => {
    const path = `/api/v1/orders/${orderId}`;
    const cases: [string, string, SendOptions, number][] = [
      ['no token', path, {}, 401],
      ['a bad token', path, { headers: { authorization: 'Bearer nope' } }, 401],
      ['a malformed Authorization header', path, { headers: { authorization: 'Basic x' } }, 401],
      ['a query string', `${path}?x=1`, withTokenOnly(), 200],
      ['an id that is not a UUID', '/api/v1/orders/not-a-uuid', withTokenOnly(), 400],
      ['the history below it', `${path}/history`, withTokenOnly(), 200],
      ['a body', path, { ...withTokenOnly(), body: '{}' }, 200],
    ];
    for (const [what, target, options, status] of cases) {
      const {
        lane: answer,
        router,
        handedOn,
      } = await both(target, {
        ...options,
        headers: { ...options.headers, 'x-request-id': `routed-${status}` },
      });
      expect(handedOn, what).toBe(1);
      expect(answer.status, what).toBe(status);
      expectSameAnswer(answer, router, what);
    }
  });
});

function withTokenOnly(): SendOptions {
  return { headers: withToken(buyer) };
}
