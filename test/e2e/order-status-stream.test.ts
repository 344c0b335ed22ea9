import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderStatusChannel } from '../../src/messaging/order-status';
import { isCluster, masterNodes } from '../../src/messaging/redis';
import { createProduct } from '../support/catalog';
import { markPaid, placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually, spawnWorkerProcess, type WorkerProcess } from '../support/worker-process';

let shop: TestShop;
let worker: WorkerProcess;
let server: ServerType;
let base: string;
let seller: TestUser;
let buyer: TestUser;
let productId: string;

beforeAll(async () => {
  // This process only serves HTTP (and the streams); every worker runs in a separate process.
  shop = await createTestShop({ WORKERS: 'none', SSE_HEARTBEAT_MS: '300' });
  worker = await spawnWorkerProcess(shop.config);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: shop.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [seller, buyer] = await Promise.all([shop.createUser('SELLER'), shop.createUser('BUYER')]);
  productId = await createProduct(shop, seller, { stock: 100 });
}, 60_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await worker?.kill('SIGTERM');
  await shop?.close();
});

interface SseMessage {
  event?: string;
  data?: string;
  id?: string;
  comment?: string;
}

/** Reads a real event stream over HTTP, message by message. */
async function openStream(path: string) {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, { signal: abort.signal });
  const messages: (SseMessage & { at: number })[] = [];
  const reading = (async () => {
    if (!res.body || res.status !== 200) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const message: SseMessage & { at: number } = { at: Date.now() };
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) message.comment = line.slice(1).trim();
            else {
              const [field, ...rest] = line.split(': ');
              (message as unknown as Record<string, unknown>)[field!] = rest.join(': ');
            }
          }
          messages.push(message);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by the test
    }
  })();
  const statuses = () =>
    messages.filter((m) => m.event === 'status').map((m) => ({ ...JSON.parse(m.data!), at: m.at }));
  return {
    res,
    messages,
    statuses,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

const watch = (orderId: string, user: TestUser) =>
  openStream(`/api/v1/orders/${orderId}/events?access_token=${user.token}`);

describe('live order status over Server-Sent Events', () => {
  it('sends the current status at once, then each change made by a separate worker process', async () => {
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const stream = await watch(order.id, buyer);
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await eventually(async () => stream.statuses().length === 1, 20_000);
      expect(stream.statuses()[0]).toMatchObject({
        orderId: order.id,
        status: 'PENDING',
        state: 'PENDING.awaitingPayment',
      });

      // Paid (committed here); the worker process's relay and consumers carry it to the stream.
      await markPaid(shop, buyer, order.id, order.total);
      await eventually(async () => stream.statuses().some((s) => s.status === 'PAID'), 15_000, 10);

      // Confirmed through the API: the worker process's order actor commits it.
      const confirmed = await shop.request('POST', `/api/v1/orders/${order.id}/confirm`, {
        token: buyer.token,
      });
      expect(confirmed.status).toBe(200);
      await eventually(async () => stream.statuses().some((s) => s.status === 'CONFIRMED'), 15_000, 10);
      const final = stream.statuses().find((s) => s.status === 'CONFIRMED')!;
      expect(final).toMatchObject({ state: 'CONFIRMED', cancelReason: null });
      // Versions only go up: nothing repeated, nothing out of order.
      const versions = stream.statuses().map((s) => s.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
    } finally {
      await stream.close();
    }
  });

  it('pushes a cancellation to the owner and to an admin watching the same order', async () => {
    const admin = await shop.createUser('ADMIN');
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const mine = await watch(order.id, buyer);
    const staff = await watch(order.id, admin);
    try {
      await eventually(async () => mine.statuses().length === 1 && staff.statuses().length === 1, 20_000);
      const cancelled = await shop.request('POST', `/api/v1/orders/${order.id}/cancel`, {
        token: buyer.token,
      });
      expect(cancelled.status).toBe(200);
      for (const stream of [mine, staff]) {
        await eventually(async () => stream.statuses().some((s) => s.status === 'CANCELLED'), 15_000, 10);
        const update = stream.statuses().find((s) => s.status === 'CANCELLED')!;
        expect(update).toMatchObject({ cancelReason: 'USER_CANCELLED' });
      }
    } finally {
      await Promise.all([mine.close(), staff.close()]);
    }
  });

  it('sends a heartbeat comment while nothing happens', async () => {
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const stream = await watch(order.id, buyer);
    try {
      await eventually(
        async () => stream.messages.filter((m) => m.comment === 'heartbeat').length >= 2,
        20_000,
      );
    } finally {
      await stream.close();
    }
  });

  it('shares one subscriber connection and one subscription among streams, dropped when the clients leave', async () => {
    const orders = await Promise.all(
      [1, 2, 3].map(() => placeOrder(shop, buyer, [{ productId, quantity: 1 }])),
    );
    const streams = await Promise.all(orders.map((o) => watch(o.id, buyer)));
    const channel = orderStatusChannel(shop.ctx);
    // Summed over the nodes: on a Redis Cluster the subscriber connection lives on one of them.
    const subscribers = async () => {
      const perNode = await Promise.all(
        masterNodes(shop.ctx.redis).map(async (node) => {
          // A cluster carries the stream over sharded pub/sub (src/messaging/pubsub.ts).
          const counts = (
            isCluster(shop.ctx.redis)
              ? await node.pubsub('SHARDNUMSUB', channel)
              : await node.pubsub('NUMSUB', channel)
          ) as (string | number)[];
          return Number(counts[1]);
        }),
      );
      return perNode.reduce((sum, n) => sum + n, 0);
    };
    try {
      await eventually(async () => streams.every((s) => s.statuses().length === 1), 20_000);
      expect(await subscribers()).toBe(1);
      const lists = await Promise.all(masterNodes(shop.ctx.redis).map((node) => node.client('LIST')));
      const clients = lists
        .join('\n')
        .split('\n')
        .filter((line) => line.includes(`name=${shop.config.redisPrefix}:order-status`));
      expect(clients).toHaveLength(1);
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    await eventually(async () => (await subscribers()) === 0, 20_000);
  });
});

describe('who may watch an order', () => {
  it("answers 404 for another user's order or an unknown one, 401 without a valid token, 400 for a bad id", async () => {
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const stranger = await shop.createUser('BUYER');
    const cases: [string, number, string][] = [
      [`/api/v1/orders/${order.id}/events?access_token=${stranger.token}`, 404, 'ORDER_NOT_FOUND'],
      [`/api/v1/orders/${crypto.randomUUID()}/events?access_token=${buyer.token}`, 404, 'ORDER_NOT_FOUND'],
      [`/api/v1/orders/${order.id}/events`, 401, 'UNAUTHORIZED'],
      [`/api/v1/orders/${order.id}/events?access_token=not-a-token`, 401, 'UNAUTHORIZED'],
      [`/api/v1/orders/not-a-uuid/events?access_token=${buyer.token}`, 400, 'VALIDATION_ERROR'],
    ];
    for (const [path, status, error] of cases) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, status]);
      expect(((await res.json()) as { error: string }).error).toBe(error);
    }
  });
});
