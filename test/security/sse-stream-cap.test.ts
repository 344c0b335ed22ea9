import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixtureProduct, placeFixtureOrder } from '../support/order-fixtures';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// Issue 14 item 6: one user could open any number of live order streams (each holds a connection,
// a subscription and a heartbeat timer). Now SSE_MAX_STREAMS_PER_USER per process, 429 beyond it.

let shop: TestShop;
let server: ServerType;
let base: string;
let buyer: TestUser;
let other: TestUser;
let orderId: string;
let otherOrderId: string;

beforeAll(async () => {
  shop = await createTestShop({ SSE_MAX_STREAMS_PER_USER: '2' });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: shop.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [buyer, other] = [await shop.createUser('BUYER'), await shop.createUser('BUYER')];
  const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
  orderId = await placeFixtureOrder(shop, buyer, product);
  otherOrderId = await placeFixtureOrder(shop, other, product);
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await shop?.close();
});

async function open(user: TestUser, order: string) {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1/orders/${order}/events?access_token=${user.token}`, {
    signal: abort.signal,
  });
  return {
    res,
    close: async () => {
      abort.abort();
      await res.body?.cancel().catch(() => undefined);
    },
  };
}

describe('concurrent SSE streams per user', () => {
  it('answers 429 with Retry-After beyond SSE_MAX_STREAMS_PER_USER, other users unaffected', async () => {
    const first = await open(buyer, orderId);
    const second = await open(buyer, orderId);
    const streams = [first, second];
    try {
      expect([first.res.status, second.res.status]).toEqual([200, 200]);
      const third = await open(buyer, orderId);
      streams.push(third);
      expect(third.res.status).toBe(429);
      expect(((await third.res.json()) as { error: string }).error).toBe('RATE_LIMITED');
      expect(Number(third.res.headers.get('retry-after'))).toBeGreaterThan(0);

      const someoneElse = await open(other, otherOrderId);
      streams.push(someoneElse);
      expect(someoneElse.res.status).toBe(200);

      // Closing a stream frees its place.
      await first.close();
      await eventually(async () => {
        const again = await open(buyer, orderId);
        streams.push(again);
        if (again.res.status !== 200) await again.close();
        return again.res.status === 200;
      }, 20_000);
    } finally {
      for (const stream of streams) await stream.close();
    }
  });
});
