import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInventoryDrift } from '../../src/catalog/inventory-actor';
import { query, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually, spawnWorkerProcess } from '../support/worker-process';

const rows = <T>(shop: TestShop, statement: ReturnType<typeof sql>) =>
  query<T>(shop.ctx.orm.em.fork(), statement as never);

async function assertNoHalfWrittenOrders(shop: TestShop) {
  const broken = await rows<{ id: string }>(
    shop,
    sql`select o.id from orders o
        where not exists (select 1 from order_items i where i.order_id = o.id)
           or (select count(*) from order_transitions t where t.order_id = o.id) <> o.version
           or not exists (select 1 from outbox_events e where e.aggregate_id = o.id::text and e.type = 'ORDER_CREATED')`,
  );
  expect(broken).toEqual([]);
  const drift = await findInventoryDrift(shop.ctx.orm.em.fork());
  expect(drift).toEqual([]);
}

describe('several worker processes on one mailbox', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // This process only serves HTTP; two separate processes consume the mailboxes.
    shop = await createTestShop({ WORKERS: 'none', WORKER_LOCK_MS: '2000' });
  });
  afterAll(() => shop?.close());

  it('never double-applies a message, whichever process takes it', async () => {
    const workers = await Promise.all([spawnWorkerProcess(shop.config), spawnWorkerProcess(shop.config)]);
    try {
      const seller = await shop.createUser('SELLER');
      const productId = await createProduct(shop, seller, { stock: 1000 });
      const buyers = await Promise.all(Array.from({ length: 20 }, () => shop.createUser('BUYER')));
      const placed = await Promise.all(
        buyers.map((b) =>
          shop.request('POST', '/api/v1/orders', {
            token: b.token,
            body: { items: [{ productId, quantity: 2 }] },
          }),
        ),
      );
      expect(placed.map((p) => p.status)).toEqual(Array(20).fill(201));
      // Every order gets five concurrent cancels, spread over both processes.
      const cancels = await Promise.all(
        placed.flatMap((p, i) =>
          Array.from({ length: 5 }, () =>
            shop.request('POST', `/api/v1/orders/${p.body.data.id}/cancel`, { token: buyers[i]!.token }),
          ),
        ),
      );
      expect(cancels.filter((c) => c.status === 200)).toHaveLength(20);
      expect(cancels.filter((c) => c.status === 400)).toHaveLength(80);
      expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0, stock: 1000 });
      await assertNoHalfWrittenOrders(shop);
      const processes = workers.map((w) => w.output());
      expect(processes.every((out) => out.includes('workers running'))).toBe(true);
    } finally {
      await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    }
  });

  it('a worker SIGKILLed mid-job leaves no half-written order, and the jobs complete after restart', async () => {
    const seller = await shop.createUser('SELLER');
    const productId = await createProduct(shop, seller, { stock: 10_000 });
    const buyers = await Promise.all(Array.from({ length: 60 }, () => shop.createUser('BUYER')));
    const first = await spawnWorkerProcess(shop.config, { WORKER_CONCURRENCY: '8' });
    // Short replies: most requests answer 202 with a receipt while the worker dies under them.
    const requests = buyers.map((b) =>
      shop.request('POST', '/api/v1/orders', {
        token: b.token,
        body: { items: [{ productId, quantity: 1 }] },
        headers: { 'idempotency-key': `kill-${b.id}` },
      }),
    );
    await eventually(async () => (await shop.ctx.queues.orderShards[0]!.getActiveCount()) > 0, 10_000, 5);
    await first.kill('SIGKILL');
    const answers = await Promise.all(requests);
    const second = await spawnWorkerProcess(shop.config);
    try {
      // Every request's command is carried out exactly once: poll receipts (or replay by key).
      const outcomes = await Promise.all(
        buyers.map((b, i) =>
          eventually(async () => {
            const res =
              answers[i]!.status === 202
                ? await shop.request('GET', answers[i]!.headers.get('location')!, { token: b.token })
                : answers[i]!;
            return res.status === 201 || res.body?.data?.status === 'DONE' ? res : undefined;
          }, 25_000),
        ),
      );
      expect(outcomes).toHaveLength(60);
      const [{ n }] = (await rows<{ n: number }>(
        shop,
        sql`select count(*)::int as n from order_items where product_id = ${productId}`,
      )) as [{ n: number }];
      expect(n).toBe(60);
      expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 60 });
      await assertNoHalfWrittenOrders(shop);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 60_000);
});

describe('the payment window', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // The sweeper is hourly here: only the time bucket can expire the order.
    shop = await createTestShop({
      WORKERS: 'all',
      ORDER_PAYMENT_TIMEOUT_MS: '1500',
      ORDER_SWEEP_INTERVAL_MS: '3600000',
    });
  });
  afterAll(() => shop?.close());

  it('expires an unpaid order: CANCELLED with PAYMENT_TIMEOUT, stock released, history says EXPIRE', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 3 });
    const id = (
      await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 3 }] },
      })
    ).body.data.id;
    const order = await eventually(async () => {
      const res = await shop.request('GET', `/api/v1/orders/${id}`, { token: buyer.token });
      return res.body.data.status === 'CANCELLED' ? res.body.data : undefined;
    }, 10_000);
    expect(order.cancelReason).toBe('PAYMENT_TIMEOUT');
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0 });
    const history = await shop.request('GET', `/api/v1/orders/${id}/history`, { token: buyer.token });
    expect(history.body.data.map((h: { event: string }) => h.event)).toEqual(['PLACE', 'EXPIRE']);
    // The due second's bucket (`expire-at-{second}`) expired it, not the sweeper.
    const [expiry] = await query<{ message_id: string }>(
      shop.ctx.orm.em.fork(),
      sql`select message_id from order_transitions where order_id = ${id} and event = 'EXPIRE'`,
    );
    expect(expiry!.message_id).toMatch(/^expire-at-\d+-/);
  });
});

/** For one describe: a shop with every worker on a Redis of its own, which its tests may FLUSHALL. */
function shopOnPrivateRedis(env: Record<string, string>) {
  const running = {} as { shop: TestShop; redis: PrivateRedis };
  beforeAll(async () => {
    running.redis = await startPrivateRedis();
    running.shop = await createTestShop({ REDIS_URL: running.redis.url, WORKERS: 'all', ...env });
  });
  afterAll(async () => {
    await running.shop?.close();
    await running.redis?.stop();
  });
  return running;
}

describe('the sweeper, when Redis lost the delayed jobs', () => {
  const running = shopOnPrivateRedis({ ORDER_PAYMENT_TIMEOUT_MS: '1000', ORDER_SWEEP_INTERVAL_MS: '500' });

  it('still cancels an overdue order after FLUSHALL wiped its timeout job', async () => {
    const { shop, redis } = running;
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 2 });
    const placed = (
      await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 2 }] },
      })
    ).body.data;
    const id = placed.id;
    // The order's time bucket is in Redis (added after commit); then Redis loses everything it had.
    const bucket = `expire-at-${Math.ceil(Date.parse(placed.expiresAt) / 1000)}`;
    await eventually(async () => (await shop.ctx.queues.orderShards[0]!.getJob(bucket)) !== undefined);
    await redis.flushAll();
    const order = await eventually(async () => {
      const res = await shop.request('GET', `/api/v1/orders/${id}`, { token: buyer.token });
      return res.body.data.status === 'CANCELLED' ? res.body.data : undefined;
    }, 20_000);
    expect(order.cancelReason).toBe('PAYMENT_TIMEOUT');
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0 });
    // It was the sweeper's EXPIRE, not the (lost) delayed job, that cancelled it.
    const [expiry] = await rows<{ message_id: string }>(
      shop,
      sql`select message_id from order_transitions where order_id = ${id} and event = 'EXPIRE'`,
    );
    expect(expiry!.message_id).toMatch(/^sweep-expire-/);
  }, 30_000);
});

describe('the sweeper, when Redis lost an auto-confirmation', () => {
  const running = shopOnPrivateRedis({
    PAYMENT_GATEWAY_LATENCY_MS: '0',
    ORDER_AUTO_CONFIRM_MS: '1500',
    ORDER_SWEEP_INTERVAL_MS: '500',
  });

  it('still confirms a PAID order past its auto-confirmation after FLUSHALL wiped its timer job', async () => {
    const { shop, redis } = running;
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 2 });
    const id = (
      await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 1 }] },
      })
    ).body.data.id;
    const paying = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      body: { orderId: id, method: 'CARD', cardToken: 'tok_ok' },
      headers: { 'idempotency-key': `key-${crypto.randomUUID()}` },
    });
    expect(paying.status).toBe(202);
    // The auto-confirmation's minute bucket is in Redis (added after the PAID commit); then Redis loses it.
    const queue = shop.ctx.queues.orderShards[0]!;
    await eventually(async () => (await queue.getDelayed()).some((job) => job.id?.startsWith('confirm-at-')));
    await redis.flushAll();
    const order = await eventually(async () => {
      const res = await shop.request('GET', `/api/v1/orders/${id}`, { token: buyer.token });
      return res.body.data.status === 'CONFIRMED' ? res.body.data : undefined;
    }, 20_000);
    expect(order.confirmedAt).not.toBeNull();
    const [confirmation] = await query<{ message_id: string }>(
      shop.ctx.orm.em.fork(),
      sql`select message_id from order_transitions where order_id = ${id} and to_status = 'CONFIRMED'`,
    );
    expect(confirmation!.message_id).toMatch(/^sweep-confirm-/);
  }, 30_000);
});
