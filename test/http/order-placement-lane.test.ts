import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/app';
import { soldOutMemo } from '../../src/catalog/sold-out-memo';
import { stockGateKeys } from '../../src/catalog/stock-gate';
import { query, sql } from '../../src/db/sql';
import { withNodeOrderPlacementLane } from '../../src/http/order-placement-lane';
import { createProduct, inventoryOf, unitsInPendingOrders } from '../support/catalog';
import { createBuyers } from '../support/coupons';
import {
  type Answer,
  expectSameAnswer,
  expectSoldOutRefusal,
  histogramCount,
  type LaneBench,
  type NodeLane,
  ORDERS,
  orderOf,
  type SendOptions,
  send,
  sendCutOffMidBody,
  soldOutHeaders,
  startLaneBench,
  withToken,
} from '../support/lanes';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// POST /orders answered on Node's own request in front of the router, with the router's answer;
// everything the lane is not sure of is the router's.

const lane: NodeLane = (ctx, metrics, next) => withNodeOrderPlacementLane(ctx, metrics, MAX_BODY_BYTES, next);

/** An answer's JSON with what differs between two orders (ids, numbers, times) replaced by its kind. */
function shapeOf(answer: Answer): unknown {
  const volatile = (key: string) => key === 'id' || key === 'orderNo' || key.endsWith('At');
  const walk = (value: unknown, key = ''): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return volatile(key) && value !== null ? `<${typeof value}>` : value;
  };
  return walk(JSON.parse(answer.body));
}

/** Two answers for two different orders: the same status, headers (but Location's id) and body shape. */
function expectSameKindOfAnswer(lane: Answer, router: Answer, what: string): void {
  expect(lane.status, what).toBe(router.status);
  expect(shapeOf(lane), what).toEqual(shapeOf(router));
  const skip = new Set(['x-request-id', 'date', 'connection', 'keep-alive', 'content-length', 'location']);
  const names = (a: Answer) =>
    Object.keys(a.headers)
      .filter((h) => !skip.has(h))
      .sort();
  expect(names(lane), what).toEqual(names(router));
  for (const name of names(lane)) expect(lane.headers[name], `${what}: ${name}`).toBe(router.headers[name]);
  expect(lane.headers.location === undefined, what).toBe(router.headers.location === undefined);
}

describe('with the order workers running', () => {
  let shop: TestShop;
  let bench: LaneBench;
  let seller: TestUser;
  let buyer: TestUser;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'all', REPLY_TIMEOUT_MS: '5000' });
    bench = await startLaneBench(shop, { node: lane });
    [seller, buyer] = await Promise.all([shop.createUser('SELLER'), shop.createUser('BUYER')]);
  });
  afterAll(async () => {
    await bench?.close();
    await shop?.close();
  });

  /** The same request to the lane and to the router alone; the lane's answer and whether it handed it on. */
  async function both(options: () => SendOptions, path = ORDERS) {
    const before = bench.routed();
    const laneAnswer = await send(bench.lanePort, 'POST', path, options());
    const handedOn = bench.routed() - before;
    const router = await send(bench.routerPort, 'POST', path, options());
    return { lane: laneAnswer, router, handedOn };
  }

  it('places an order as the router does: 201, the order, headers, language, the histogram series', async () => {
    const productId = await createProduct(shop, seller, { stock: 10, price: 1_500 });
    const series = { method: 'POST', route: '/api/v1/orders', status: '201' };
    const laneCount = histogramCount(await bench.laneMetrics.registry.metrics(), series);
    const headers = withToken(buyer, { 'accept-language': 'ko', 'x-request-id': 'place-42' });
    const { lane: placed, router, handedOn } = await both(() => ({ body: orderOf(productId, 2), headers }));
    expect(handedOn).toBe(0);
    expectSameKindOfAnswer(placed, router, 'placed');
    expect(placed.headers['x-request-id']).toBe('place-42');
    expect(JSON.parse(placed.body).data).toMatchObject({
      status: 'PENDING',
      userId: buyer.id,
      total: 3_000,
      items: [{ productId, quantity: 2, unitPrice: 1_500 }],
    });
    expect(histogramCount(await bench.laneMetrics.registry.metrics(), series)).toBe(laneCount + 1);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 10, reserved: 4 });
  });

  it('refuses as the router does, byte for byte: out of stock, an unknown product, an empty cart', async () => {
    const soldOut = await createProduct(shop, seller, { stock: 0 });
    const unknown = crypto.randomUUID();
    const cases: [string, () => SendOptions, number][] = [
      ['out of stock', () => ({ body: orderOf(soldOut), headers: withToken(buyer) }), 409],
      [
        'an unknown product',
        () => ({
          body: orderOf(unknown),
          headers: withToken(buyer, { 'accept-language': 'ko' }),
        }),
        404,
      ],
      ['an empty cart', () => ({ body: JSON.stringify({ fromCart: true }), headers: withToken(buyer) }), 400],
    ];
    for (const [what, options, status] of cases) {
      const { lane: refused, router, handedOn } = await both(options);
      expect(handedOn, what).toBe(0);
      expect(refused.status, what).toBe(status);
      expectSameAnswer(refused, router, what);
    }
    expect(await inventoryOf(shop, soldOut)).toMatchObject({ stock: 0, reserved: 0 });
  });

  describe('what the lane hands to the router', () => {
    it('answers as the router does, with the body intact', async () => {
      const productId = await createProduct(shop, seller, { stock: 100 });
      const cases: [string, () => SendOptions, number, string?][] = [
        ['no token', () => ({ body: orderOf(productId) }), 401],
        ['a bad token', () => ({ body: orderOf(productId), headers: { authorization: 'Bearer nope' } }), 401],
        ['an invalid body', () => ({ body: JSON.stringify({ items: [] }), headers: withToken(buyer) }), 400],
        [
          'a malformed Authorization header',
          () => ({ body: orderOf(productId), headers: { authorization: 'Basic x' } }),
          401,
        ],
        ['malformed JSON', () => ({ body: '{"items": [', headers: withToken(buyer) }), 400],
        ['a quantity of 0', () => ({ body: orderOf(productId, 0), headers: withToken(buyer) }), 400],
        [
          'a body that is not JSON',
          () => ({ body: orderOf(productId), headers: withToken(buyer, { 'content-type': 'text/plain' }) }),
          400,
        ],
        [
          'a body over the limit',
          () => ({ body: orderOf(productId) + ' '.repeat(MAX_BODY_BYTES), headers: withToken(buyer) }),
          413,
        ],
        [
          'a query string',
          () => ({ body: orderOf(productId), headers: withToken(buyer) }),
          201,
          `${ORDERS}?x=1`,
        ],
        // Streamed without a length: the router counts it as it comes, and places it.
        [
          'a chunked body',
          () => ({ body: orderOf(productId), headers: withToken(buyer), chunked: true }),
          201,
        ],
      ];
      for (const [what, options, status, path] of cases) {
        const { lane: handed, router, handedOn } = await both(options, path);
        expect(handedOn, what).toBe(1);
        expect(handed.status, what).toBe(status);
        if (status === 201) expectSameKindOfAnswer(handed, router, what);
        else expectSameAnswer(handed, router, what);
      }
    });

    it('a keyed request: the router, whose receipt replays the first answer', async () => {
      const productId = await createProduct(shop, seller, { stock: 5 });
      const headers = withToken(buyer, { 'idempotency-key': `k-${crypto.randomUUID()}` });
      const before = bench.routed();
      const first = await send(bench.lanePort, 'POST', ORDERS, { body: orderOf(productId), headers });
      const again = await send(bench.lanePort, 'POST', ORDERS, { body: orderOf(productId), headers });
      expect(bench.routed() - before).toBe(2);
      expect(first.status).toBe(201);
      expect(JSON.parse(again.body).data.id).toBe(JSON.parse(first.body).data.id);
      expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 1 });
    });
  });

  it('a client that goes away mid-body: nothing placed, nothing handed on, the next order answered', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const [someone] = await createBuyers(shop, 1);
    const body = orderOf(productId);
    const before = bench.routed();
    await sendCutOffMidBody(bench.lanePort, ORDERS, someone!.token, body);
    const next = await send(bench.lanePort, 'POST', ORDERS, { body, headers: withToken(someone!) });
    expect(next.status).toBe(201);
    expect(bench.routed() - before).toBe(0);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 1 });
  });

  it('never oversells: 60 buyers at once for 12 units, exactly 12 placed, reserved = units of PENDING orders', async () => {
    const stock = 12;
    const productId = await createProduct(shop, seller, { stock });
    const buyers = await createBuyers(shop, 60);
    const answers = await Promise.all(
      buyers.map((u) =>
        send(bench.lanePort, 'POST', ORDERS, { body: orderOf(productId), headers: withToken(u) }),
      ),
    );
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    expect([count(201), count(409)]).toEqual([stock, buyers.length - stock]);
    // After the sell-out every buyer again: all refused (from the sold-out memo, or the gate).
    const again = await Promise.all(
      buyers.map((u) =>
        send(bench.lanePort, 'POST', ORDERS, { body: orderOf(productId), headers: withToken(u) }),
      ),
    );
    expect(again.filter((a) => a.status === 409)).toHaveLength(buyers.length);
    expect(await unitsInPendingOrders(shop, productId)).toBe(stock);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock, reserved: stock, available: 0 });
    expect(await shop.ctx.redis.hget(stockGateKeys(shop.ctx).available, productId)).toBe('0');
  });

  describe('a product the sold-out memo knows (the flash sale after its sell-out)', () => {
    /** The memo's word that the product is short, kept for the rest of the file (entries last 100 ms). */
    async function learnSoldOut(): Promise<string> {
      const productId = await createProduct(shop, seller, { stock: 0 });
      const res = await send(bench.routerPort, 'POST', ORDERS, {
        body: orderOf(productId),
        headers: withToken(buyer),
      });
      expect(res.status).toBe(409);
      soldOutMemo(shop.ctx).remember([{ productId, requested: 1, available: 0 }], Date.now() + 3_600_000);
      return productId;
    }

    it('is refused with the router’s 409: status, body, headers, language, request id', async () => {
      const soldOutId = await learnSoldOut();
      for (const lang of ['ko-KR,ko;q=0.9', 'en-US']) {
        const headers = soldOutHeaders(buyer, lang);
        const { lane: refused, router, handedOn } = await both(() => ({ body: orderOf(soldOutId), headers }));
        expect(handedOn, lang).toBe(0);
        expectSameAnswer(refused, router, lang);
        expectSoldOutRefusal(refused, lang, soldOutId);
      }
    });

    it('counts the 409 in the router’s histogram series', async () => {
      const soldOutId = await learnSoldOut();
      const series = { method: 'POST', route: '/api/v1/orders', status: '409' };
      const laneBefore = histogramCount(await bench.laneMetrics.registry.metrics(), series);
      const routerBefore = histogramCount(await bench.routerMetricsText(), series);
      const { handedOn } = await both(() => ({ body: orderOf(soldOutId), headers: withToken(buyer) }));
      expect(handedOn).toBe(0);
      expect(histogramCount(await bench.laneMetrics.registry.metrics(), series)).toBe(laneBefore + 1);
      expect(histogramCount(await bench.routerMetricsText(), series)).toBe(routerBefore + 1);
    });

    it('writes nothing: no order, no take in the gate, the counter as it was', async () => {
      const soldOutId = await learnSoldOut();
      const [someone] = await createBuyers(shop, 1);
      const keys = stockGateKeys(shop.ctx);
      const takesBefore = await shop.ctx.redis.hlen(keys.takes);
      for (let i = 0; i < 5; i++) {
        const res = await send(bench.lanePort, 'POST', ORDERS, {
          body: orderOf(soldOutId),
          headers: withToken(someone!),
        });
        expect(res.status).toBe(409);
      }
      const [row] = await query<{ n: number }>(
        shop.ctx.orm.em.fork(),
        sql`select count(*)::int as n from orders where user_id = ${someone!.id}`,
      );
      expect(row!.n).toBe(0);
      expect(await shop.ctx.redis.hlen(keys.takes)).toBe(takesBefore);
      expect(await shop.ctx.redis.hget(keys.available, soldOutId)).toBe('0');
      expect(await inventoryOf(shop, soldOutId)).toMatchObject({ stock: 0, reserved: 0 });
    });
  });
});

describe('with no order worker to answer in time', () => {
  let shop: TestShop;
  let bench: LaneBench;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'none', REPLY_TIMEOUT_MS: '100' });
    bench = await startLaneBench(shop, { node: lane });
  });
  afterAll(async () => {
    await bench?.close();
    await shop?.close();
  });

  it('answers 202 with the receipt to poll, as the router does', async () => {
    const [seller, buyer] = await Promise.all([shop.createUser('SELLER'), shop.createUser('BUYER')]);
    const productId = await createProduct(shop, seller, { stock: 5 });
    const options = { body: orderOf(productId), headers: withToken(buyer) };
    const before = bench.routed();
    const queued = await send(bench.lanePort, 'POST', ORDERS, options);
    expect(bench.routed() - before).toBe(0);
    const router = await send(bench.routerPort, 'POST', ORDERS, options);
    expectSameKindOfAnswer(queued, router, 'queued');
    expect(queued.status).toBe(202);
    const receipt = JSON.parse(queued.body).data;
    expect(receipt).toMatchObject({ type: 'PLACE', status: 'QUEUED' });
    expect(queued.headers.location).toBe(`/api/v1/commands/${receipt.id}`);
  });
});
