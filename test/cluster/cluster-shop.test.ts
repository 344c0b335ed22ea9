import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findInventoryDrift } from '../../src/catalog/inventory-actor';
import { mailboxFor } from '../../src/messaging/queues';
import { isCluster } from '../../src/messaging/redis';
import { createProduct, inventoryOf } from '../support/catalog';
import { createBuyers, createCoupon, issue, storedIssuance } from '../support/coupons';
import { placeOrder } from '../support/orders';
import { pay, waitForOrder } from '../support/payments';
import { nodeCommand } from '../support/private-redis';
import { type LocalRedisCluster, startRedisCluster } from '../support/redis-cluster';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

/**
 * The shop on a real 3-master Redis Cluster (local redis-server processes): the order mailbox in six
 * shards spread over the masters, orders placed (the reply bus answers 201), paid and confirmed
 * through them, a coupon stampede through the gate's script, and a payment window closed by its
 * delayed job — each invariant checked in the shop's own data.
 */
const SHARDS = 6;
let cluster: LocalRedisCluster;
let shop: TestShop;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  shop = await createTestShop({
    REDIS_CLUSTER_NODES: cluster.nodesEnv,
    ORDER_SHARDS: String(SHARDS),
    WORKERS: 'all',
  });
}, 120_000);
afterAll(async () => {
  await shop?.close();
  await cluster?.stop();
});

/** Port of the master serving a slot, from CLUSTER SLOTS. */
async function masterOfSlot(slot: number): Promise<number> {
  const ranges = (await nodeCommand(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [
    number,
    number,
    [string, number, ...unknown[]],
  ][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no node serves slot ${slot}`);
  return range[2][1];
}

describe('the order mailbox on a Redis Cluster', () => {
  it('is one queue per shard, each with its own hash tag, spread over every master', async () => {
    expect(isCluster(shop.ctx.redis)).toBe(true);
    const shards = shop.ctx.queues.orderShards;
    expect(shards.map((q) => q.name)).toEqual(Array.from({ length: SHARDS }, (_, i) => `order.${i}`));
    const masters = new Set<number>();
    for (const queue of shards) {
      const key = await queue.toKey('wait');
      expect(key).toContain(`{${queue.name}}`);
      const slot = Number(await nodeCommand(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', key]));
      masters.add(await masterOfSlot(slot));
    }
    expect(masters.size).toBe(3);
  });

  it('places, pays and confirms orders, every message of an order in its shard', async () => {
    const seller = await shop.createUser('SELLER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const buyers = await Promise.all(Array.from({ length: 12 }, () => shop.createUser('BUYER')));
    // Which shard each job naming an order went to, as it is added (a completed command job is removed
    // at once, so the completed set no longer shows them): every producer here uses these queues.
    const addedTo = new Map<string, Set<string>>();
    // A batch job (COMMAND_BATCH, NOTICE_BATCH) names its members' orders: each is counted.
    const record = (queueName: string, data: unknown) => {
      const job = data as
        | { orderId?: unknown; commands?: { data?: unknown }[]; members?: { data?: unknown }[] }
        | undefined;
      for (const member of [...(job?.commands ?? []), ...(job?.members ?? [])])
        record(queueName, member.data);
      const orderId = job?.orderId;
      if (typeof orderId !== 'string') return;
      addedTo.set(orderId, (addedTo.get(orderId) ?? new Set()).add(queueName));
    };
    for (const queue of shop.ctx.queues.orderShards) {
      const add = queue.add.bind(queue);
      const addBulk = queue.addBulk.bind(queue);
      vi.spyOn(queue, 'add').mockImplementation((name, data, opts) => {
        record(queue.name, data);
        return add(name, data, opts);
      });
      vi.spyOn(queue, 'addBulk').mockImplementation((jobs) => {
        for (const job of jobs) record(queue.name, job.data);
        return addBulk(jobs);
      });
    }
    // 201, not 202: the worker's reply crossed the cluster's pub/sub to this process in time.
    const orders = await Promise.all(buyers.map((b) => placeOrder(shop, b, [{ productId, quantity: 2 }])));
    const paid = await Promise.all(
      orders.map((o, i) => pay(shop, buyers[i]!, { orderId: o.id, method: 'CARD', cardToken: 'tok_ok' })),
    );
    expect(paid.map((p) => p.status).every((s) => s === 201 || s === 202)).toBe(true);
    await Promise.all(orders.map((o, i) => waitForOrder(shop, buyers[i]!, o.id, (x) => x.status === 'PAID')));
    const confirmed = await Promise.all(
      orders.map((o, i) =>
        shop.request('POST', `/api/v1/orders/${o.id}/confirm`, { token: buyers[i]!.token }),
      ),
    );
    expect(confirmed.map((c) => c.status)).toEqual(Array(12).fill(200));

    for (const order of orders) {
      const home = mailboxFor(shop.ctx.queues, 'order', { orderId: order.id });
      expect([...(addedTo.get(order.id) ?? [])]).toEqual([home.name]);
    }
    vi.restoreAllMocks();
    expect(
      new Set(orders.map((o) => mailboxFor(shop.ctx.queues, 'order', { orderId: o.id }).name)).size,
    ).toBeGreaterThan(1);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 100 - 24, reserved: 0 });
    expect(await findInventoryDrift(shop.ctx.orm.em.fork())).toEqual([]);
  }, 60_000);

  it('issues exactly the coupons there are to a stampede, through the gate script of one slot', async () => {
    const admin = await shop.createUser('ADMIN');
    const coupon = await createCoupon(shop, admin, { totalQuantity: 10 });
    const buyers = await createBuyers(shop, 100);
    const answers = await Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    expect(answers.every((a) => a.status === 201 || a.status === 409)).toBe(true);
    const stored = await storedIssuance(shop, coupon.id);
    expect(stored.issued_count).toBe(10);
    expect(new Set(stored.userIds).size).toBe(10);
  }, 60_000);
});

describe('timers on a Redis Cluster', () => {
  let timed: TestShop;
  beforeAll(async () => {
    // The sweep is an hour away: only the delayed job in the order's shard can close the window.
    timed = await createTestShop({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      ORDER_SHARDS: String(SHARDS),
      WORKERS: 'all',
      ORDER_PAYMENT_TIMEOUT_MS: '1000',
      ORDER_SWEEP_INTERVAL_MS: '3600000',
    });
  }, 60_000);
  afterAll(() => timed?.close());

  it('expires unpaid orders by their delayed jobs: CANCELLED with PAYMENT_TIMEOUT, stock released', async () => {
    const seller = await timed.createUser('SELLER');
    const productId = await createProduct(timed, seller, { stock: 10 });
    const buyers = await Promise.all(Array.from({ length: 4 }, () => timed.createUser('BUYER')));
    const orders = await Promise.all(buyers.map((b) => placeOrder(timed, b, [{ productId, quantity: 2 }])));
    for (const [i, order] of orders.entries()) {
      const cancelled = await eventually(async () => {
        const res = await timed.request('GET', `/api/v1/orders/${order.id}`, { token: buyers[i]!.token });
        return res.body.data.status === 'CANCELLED' ? res.body.data : undefined;
      }, 20_000);
      expect(cancelled.cancelReason).toBe('PAYMENT_TIMEOUT');
    }
    expect(await inventoryOf(timed, productId)).toMatchObject({ stock: 10, reserved: 0 });
  }, 60_000);
});
