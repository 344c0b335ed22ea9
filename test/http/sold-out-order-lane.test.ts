import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/app';
import { soldOutMemo } from '../../src/catalog/sold-out-memo';
import { stockGateKeys } from '../../src/catalog/stock-gate';
import { query, sql } from '../../src/db/sql';
import { withSoldOutOrderLane } from '../../src/http/sold-out-order-lane';
import { createProduct, inventoryOf, unitsInPendingOrders } from '../support/catalog';
import { createBuyers } from '../support/coupons';
import {
  type Answer,
  expectSameAnswer,
  expectSoldOutRefusal,
  histogramCount,
  type LaneBench,
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

// Issue 12 item 3: the flash sale's sold-out 409 answered in front of the router, with exactly the
// router's answer; everything the lane is not sure of is the router's.

let shop: TestShop;
let bench: LaneBench;
let seller: TestUser;
let buyer: TestUser;
let soldOutId: string;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', REPLY_TIMEOUT_MS: '5000' });
  [seller, buyer] = await Promise.all([shop.createUser('SELLER'), shop.createUser('BUYER')]);
  soldOutId = await createProduct(shop, seller, { stock: 0 });
});
afterAll(async () => {
  await shop?.close();
});

/**
 * Lets the router hear the gate refuse the product (which fills the memo), then keeps the memo's word
 * for the rest of the file: its entries last 100 ms, and a test must not depend on how fast it runs.
 */
async function learnSoldOut(productId: string): Promise<void> {
  const res = await send(bench.routerPort, 'POST', ORDERS, {
    body: orderOf(productId),
    headers: withToken(buyer),
  });
  expect(res.status).toBe(409);
  soldOutMemo(shop.ctx).remember([{ productId, requested: 1, available: 0 }], Date.now() + 3_600_000);
}

/** The same request to the lane and to the router alone; the lane's answer and whether it handed it on. */
async function both(options: SendOptions, path = ORDERS) {
  const before = bench.routed();
  const lane = await send(bench.lanePort, 'POST', path, options);
  const handedOn = bench.routed() - before;
  const router = await send(bench.routerPort, 'POST', path, options);
  return { lane, router, handedOn };
}

const ordersOf = async (userId: string) => {
  const [row] = await query<{ n: number }>(
    shop.ctx.orm.em.fork(),
    sql`select count(*)::int as n from orders where user_id = ${userId}`,
  );
  return row!.n;
};

// The lane on the web Request (app.fetch). npm start's server answers these requests on Node's own
// request with the order placement lane (test/http/order-placement-lane.test.ts).
describe.each([['on the web Request', withSoldOutOrderLane]] as const)('the sold-out lane %s', (_, lane) => {
  beforeAll(async () => {
    bench = await startLaneBench(shop, lane);
  });
  afterAll(async () => {
    await bench?.close();
  });

  describe('a sold-out product', () => {
    it('is refused by the lane with the router’s 409: status, body, headers, language, request id', async () => {
      await learnSoldOut(soldOutId);
      for (const lang of ['ko-KR,ko;q=0.9', 'en-US']) {
        const headers = soldOutHeaders(buyer, lang);
        const { lane, router, handedOn } = await both({ body: orderOf(soldOutId), headers });
        expect(handedOn, lang).toBe(0);
        expectSameAnswer(lane, router, lang);
        expectSoldOutRefusal(lane, lang, soldOutId);
      }
    });

    it('counts the lane’s 409 in the router’s histogram series', async () => {
      await learnSoldOut(soldOutId);
      const series = { method: 'POST', route: '/api/v1/orders', status: '409' };
      const laneBefore = histogramCount(await bench.laneMetrics.registry.metrics(), series);
      const routerBefore = histogramCount(await bench.routerMetricsText(), series);
      const { handedOn } = await both({ body: orderOf(soldOutId), headers: withToken(buyer) });
      expect(handedOn).toBe(0);
      expect(histogramCount(await bench.laneMetrics.registry.metrics(), series)).toBe(laneBefore + 1);
      expect(histogramCount(await bench.routerMetricsText(), series)).toBe(routerBefore + 1);
    });

    it('writes nothing: no order, no take in the gate, the counter as it was', async () => {
      await learnSoldOut(soldOutId);
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
      expect(await ordersOf(someone!.id)).toBe(0);
      expect(await shop.ctx.redis.hlen(keys.takes)).toBe(takesBefore);
      expect(await shop.ctx.redis.hget(keys.available, soldOutId)).toBe('0');
      expect(await inventoryOf(shop, soldOutId)).toMatchObject({ stock: 0, reserved: 0 });
    });
  });

  describe('what the lane hands to the router', () => {
    const cases: [string, () => SendOptions, number][] = [
      ['no token', () => ({ body: orderOf(soldOutId) }), 401],
      ['a bad token', () => ({ body: orderOf(soldOutId), headers: { authorization: 'Bearer nope' } }), 401],
      [
        'a malformed Authorization header',
        () => ({ body: orderOf(soldOutId), headers: { authorization: 'Basic x' } }),
        401,
      ],
      ['an invalid body', () => ({ body: JSON.stringify({ items: [] }), headers: withToken(buyer) }), 400],
      ['malformed JSON', () => ({ body: '{"items": [', headers: withToken(buyer) }), 400],
      ['a quantity of 0', () => ({ body: orderOf(soldOutId, 0), headers: withToken(buyer) }), 400],
      ['a cart order', () => ({ body: JSON.stringify({ fromCart: true }), headers: withToken(buyer) }), 400],
      [
        'a body that is not JSON',
        () => ({ body: orderOf(soldOutId), headers: withToken(buyer, { 'content-type': 'text/plain' }) }),
        400,
      ],
      [
        'a body over the limit',
        () => ({ body: orderOf(soldOutId) + ' '.repeat(MAX_BODY_BYTES), headers: withToken(buyer) }),
        413,
      ],
      // Streamed without a length: the router counts it as it comes, and refuses the sold-out product itself.
      ['a chunked body', () => ({ body: orderOf(soldOutId), headers: withToken(buyer), chunked: true }), 409],
    ];

    for (const [what, options, status] of cases) {
      it(`${what}: the router answers ${status}`, async () => {
        await learnSoldOut(soldOutId);
        const { lane, router, handedOn } = await both(options());
        expect(handedOn).toBe(1);
        expect(lane.status).toBe(status);
        expectSameAnswer(lane, router, what);
      });
    }

    it('a keyed request: the router, whose receipt replays the first answer', async () => {
      await learnSoldOut(soldOutId);
      const headers = withToken(buyer, { 'idempotency-key': `k-${crypto.randomUUID()}` });
      const before = bench.routed();
      const first = await send(bench.lanePort, 'POST', ORDERS, { body: orderOf(soldOutId), headers });
      const again = await send(bench.lanePort, 'POST', ORDERS, { body: orderOf(soldOutId), headers });
      expect(bench.routed() - before).toBe(2);
      expect([first.status, again.status]).toEqual([409, 409]);
      expect(JSON.parse(again.body)).toEqual(JSON.parse(first.body)); // a replay from the receipt: same answer
    });

    it('a query string (it may carry ?access_token=): the router', async () => {
      await learnSoldOut(soldOutId);
      const { lane, router, handedOn } = await both(
        { body: orderOf(soldOutId), headers: withToken(buyer) },
        `${ORDERS}?x=1`,
      );
      expect(handedOn).toBe(1);
      expectSameAnswer(lane, router, 'query string');
    });

    it('an order of a product the memo does not know to be short: placed by the router, body intact', async () => {
      await learnSoldOut(soldOutId);
      const inStock = await createProduct(shop, seller, { stock: 5 });
      const before = bench.routed();
      const res = await send(bench.lanePort, 'POST', ORDERS, {
        body: orderOf(inStock, 2),
        headers: withToken(buyer),
      });
      expect(bench.routed() - before).toBe(1);
      expect(res.status).toBe(201);
      expect(JSON.parse(res.body).data.items).toMatchObject([{ productId: inStock, quantity: 2 }]);
    });
  });

  it('a client that goes away mid-body: nothing placed, nothing handed on, the next buyer answered', async () => {
    await learnSoldOut(soldOutId);
    const [someone] = await createBuyers(shop, 1);
    const body = orderOf(soldOutId);
    const before = bench.routed();
    await sendCutOffMidBody(bench.lanePort, ORDERS, someone!.token, body);
    const next = await send(bench.lanePort, 'POST', ORDERS, { body, headers: withToken(someone!) });
    expect(next.status).toBe(409);
    expect(bench.routed() - before).toBe(0);
    expect(await ordersOf(someone!.id)).toBe(0);
  });

  describe('concurrent buyers through the lane', () => {
    it('never oversell: exactly the stock is sold, the rest refused, reserved = units of PENDING orders', async () => {
      const stock = 12;
      const productId = await createProduct(shop, seller, { stock });
      const buyers = await createBuyers(shop, 60);
      const wave = (users: TestUser[]) =>
        Promise.all(
          users.map((u) =>
            send(bench.lanePort, 'POST', ORDERS, { body: orderOf(productId), headers: withToken(u) }),
          ),
        );
      const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;
      const first = await wave(buyers);
      expect(count(first, 201)).toBe(stock);
      expect(count(first, 409)).toBe(buyers.length - stock);
      // After the sell-out every buyer again: all refused (by the lane or, when its memo is stale, the gate).
      const second = await wave(buyers);
      expect(count(second, 409)).toBe(buyers.length);
      expect(await unitsInPendingOrders(shop, productId)).toBe(stock);
      expect(await inventoryOf(shop, productId)).toMatchObject({ stock, reserved: stock, available: 0 });
      expect(await shop.ctx.redis.hget(stockGateKeys(shop.ctx).available, productId)).toBe('0');
    });
  });
});
