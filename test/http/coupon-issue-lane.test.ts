import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/app';
import { withCouponIssueLane, withNodeCouponIssueLane } from '../../src/http/coupon-issue-lane';
import { createBuyers, createCoupon, gateOf, storedIssuance } from '../support/coupons';
import {
  type Answer,
  expectSameAnswer,
  histogramCount,
  type LaneBench,
  type NodeLane,
  type SendOptions,
  send,
  startLaneBench,
} from '../support/lanes';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 12 item 3: POST /coupons/{id}/issue answered in front of the router, with exactly the router's
// answer; everything the lane is not sure of is the router's.

const RATE_PER_MIN = 5;
let shop: TestShop;
let bench: LaneBench;
let seller: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ COUPON_ISSUE_RATE_PER_MIN: String(RATE_PER_MIN) });
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  await shop?.close();
});

const issuePath = (couponId: string) => `/api/v1/coupons/${couponId}/issue`;
const asUser = (user: TestUser, headers: Record<string, string> = {}): SendOptions => ({
  headers: { authorization: `Bearer ${user.token}`, ...headers },
});

/** One request to the lane and one to the router alone; whether the lane handed its request on. */
async function both(laneOptions: SendOptions, routerOptions: SendOptions, path: string) {
  const before = bench.routed();
  const lane = await send(bench.lanePort, 'POST', path, laneOptions);
  const handedOn = bench.routed() - before;
  const router = await send(bench.routerPort, 'POST', path, routerOptions);
  return { lane, router, handedOn };
}

const nodeLane: NodeLane = (ctx, metrics, next) =>
  withNodeCouponIssueLane(ctx, metrics, MAX_BODY_BYTES, next);

// The same tests for the lane on the web Request (app.fetch) and on Node's own request (npm start's server).
describe.each([
  ['on the web Request', withCouponIssueLane],
  ['on Node’s own request', { node: nodeLane }],
] as const)('the coupon issue lane %s', (_, lane) => {
  beforeAll(async () => {
    bench = await startLaneBench(shop, lane);
  });
  afterAll(async () => {
    await bench?.close();
  });

  describe('the lane’s answers are the router’s', () => {
    it('a winner gets 201 with the user coupon, durable in PostgreSQL; losers the prepared 409 in their language', async () => {
      const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
      const [winner, late, later] = await createBuyers(shop, 3);
      const won = await send(bench.lanePort, 'POST', issuePath(coupon.id), asUser(winner!));
      expect(won.status).toBe(201);
      const view = JSON.parse(won.body).data;
      expect(view).toMatchObject({ status: 'ISSUED', coupon: { id: coupon.id } });
      expect((await storedIssuance(shop, coupon.id)).userIds).toEqual([winner!.id]);

      for (const lang of ['ko', 'en']) {
        const headers = { 'accept-language': lang, 'x-request-id': `rush-${lang}` };
        const soldOut = await both(asUser(late!, headers), asUser(later!, headers), issuePath(coupon.id));
        expect(soldOut.handedOn).toBe(0);
        expectSameAnswer(soldOut.lane, soldOut.router, `sold out ${lang}`);
        expect(soldOut.lane.headers['x-request-id']).toBe(`rush-${lang}`);
        expect(JSON.parse(soldOut.lane.body)).toMatchObject({
          error: 'COUPON_SOLD_OUT',
          message: lang === 'ko' ? '쿠폰이 모두 소진되었습니다' : 'The coupons are all gone',
        });
        const again = await both(asUser(winner!, headers), asUser(winner!, headers), issuePath(coupon.id));
        expect(again.handedOn).toBe(0);
        expectSameAnswer(again.lane, again.router, `already issued ${lang}`);
        expect(JSON.parse(again.lane.body).error).toBe('COUPON_ALREADY_ISSUED');
      }
    });

    it('counts in the router’s histogram series', async () => {
      const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
      const [a, b] = await createBuyers(shop, 2);
      const series = (status: string) => ({ method: 'POST', route: '/api/v1/coupons/:id/issue', status });
      const laneText = () => bench.laneMetrics.registry.metrics();
      const [won201, lost409] = [
        histogramCount(await laneText(), series('201')),
        histogramCount(await laneText(), series('409')),
      ];
      const routerBefore = histogramCount(await bench.routerMetricsText(), series('409'));
      await send(bench.lanePort, 'POST', issuePath(coupon.id), asUser(a!));
      const { handedOn } = await both(asUser(b!), asUser(b!), issuePath(coupon.id));
      expect(handedOn).toBe(0);
      expect(histogramCount(await laneText(), series('201'))).toBe(won201 + 1);
      expect(histogramCount(await laneText(), series('409'))).toBe(lost409 + 1);
      expect(histogramCount(await bench.routerMetricsText(), series('409'))).toBe(routerBefore + 1);
    });

    it('an unknown coupon: the 404 the error handler gives, without throwing through the router', async () => {
      const [buyer] = await createBuyers(shop, 1);
      const { lane, router, handedOn } = await both(
        asUser(buyer!),
        asUser(buyer!),
        issuePath(crypto.randomUUID()),
      );
      expect(handedOn).toBe(0);
      expect(lane.status).toBe(404);
      expectSameAnswer(lane, router, 'unknown coupon');
    });

    it('the per-user rate limit: 429 past it, as the router answers it', async () => {
      const coupon = await createCoupon(shop, seller, { totalQuantity: 100 });
      const [buyer] = await createBuyers(shop, 1);
      for (let i = 0; i < RATE_PER_MIN; i++)
        await send(bench.lanePort, 'POST', issuePath(coupon.id), asUser(buyer!));
      const { lane, router, handedOn } = await both(asUser(buyer!), asUser(buyer!), issuePath(coupon.id));
      expect(handedOn).toBe(0);
      expect(lane.status).toBe(429);
      expectSameAnswer(lane, router, 'rate limited');
    });
  });

  describe('what the lane hands to the router', () => {
    it('no token, a bad token, another role, an id the schema refuses, a query string, a body over the limit', async () => {
      const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
      const [buyer] = await createBuyers(shop, 1);
      const cases: [string, SendOptions, string, number][] = [
        ['no token', {}, issuePath(coupon.id), 401],
        ['a bad token', { headers: { authorization: 'Bearer nope' } }, issuePath(coupon.id), 401],
        ['a seller', asUser(seller), issuePath(coupon.id), 403],
        ['not a uuid', asUser(buyer!), '/api/v1/coupons/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/issue', 400],
        ['a query string', { headers: { authorization: 'Bearer nope' } }, `${issuePath(coupon.id)}?x=1`, 401],
        [
          'a body over 1 MiB',
          { ...asUser(seller), body: `"${'x'.repeat(1024 * 1024)}"` },
          issuePath(coupon.id),
          413,
        ],
      ];
      for (const [what, options, path, status] of cases) {
        const { lane, router, handedOn } = await both(options, options, path);
        expect(handedOn, what).toBe(1);
        expect(lane.status, what).toBe(status);
        expectSameAnswer(lane, router, what);
      }
      expect((await storedIssuance(shop, coupon.id)).userIds).toEqual([]);
    });
  });

  it('a small body, which the route ignores: the lane answers it; a chunked one goes to the router', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const [first, second] = await createBuyers(shop, 2);
    const withBody = { ...asUser(first!), body: '{}' };
    const before = bench.routed();
    const lane = await send(bench.lanePort, 'POST', issuePath(coupon.id), withBody);
    expect(bench.routed() - before).toBe(0);
    expect(lane.status).toBe(201);
    const router = await send(bench.routerPort, 'POST', issuePath(coupon.id), withBody);
    expect(router.status).toBe(409); // the same buyer again: ALREADY_ISSUED, as the lane would say
    const chunked = { ...asUser(second!), body: '{}', chunked: true };
    const streamed = await send(bench.lanePort, 'POST', issuePath(coupon.id), chunked);
    expect(bench.routed() - before).toBe(1);
    expect(streamed.status).toBe(201);
    expect((await storedIssuance(shop, coupon.id)).userIds.sort()).toEqual([first!.id, second!.id].sort());
  });

  describe('a rush through the lane', () => {
    it('issues exactly the quantity, none twice, and the gate agrees with PostgreSQL', async () => {
      const quantity = 15;
      const coupon = await createCoupon(shop, seller, { totalQuantity: quantity });
      const buyers = await createBuyers(shop, 80);
      const answers: Answer[] = await Promise.all(
        [...buyers, ...buyers.slice(0, 20)].map((b) =>
          send(bench.lanePort, 'POST', issuePath(coupon.id), asUser(b)),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(quantity);
      expect(statuses.filter((s) => s === 409)).toHaveLength(answers.length - quantity);
      const stored = await storedIssuance(shop, coupon.id);
      expect(stored).toMatchObject({ issued_count: quantity, status: 'EXHAUSTED' });
      expect(new Set(stored.userIds).size).toBe(quantity);
      const winners = answers
        .filter((a) => a.status === 201)
        .map((a) => JSON.parse(a.body).data.id as string);
      expect(new Set(winners).size).toBe(quantity);
      const gate = await gateOf(shop, coupon.id);
      expect(gate.remaining).toBe(0);
      expect([...gate.users].sort()).toEqual([...stored.userIds].sort());
    });
  });
});
