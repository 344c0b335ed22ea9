import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { ORDER_PLACE_BATCH } from '../../src/messaging/messages';
import { createProduct } from '../support/catalog';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let redis: PrivateRedis;
let postgres: PrivatePostgres;
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
let admin: TestUser;
let productId: string;

beforeAll(async () => {
  // Servers of this file's own: it stops them.
  [redis, postgres] = await Promise.all([startPrivateRedis(), startPrivatePostgres()]);
  shop = await createTestShop({ REDIS_URL: redis.url, DATABASE_URL: postgres.url, WORKERS: 'all' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
  admin = await shop.createUser('ADMIN');
  productId = await createProduct(shop, seller, { stock: 100 });
});
afterAll(async () => {
  await shop?.close();
  await Promise.all([redis?.stop(), postgres?.destroy()]);
});

const place = () =>
  shop.request('POST', '/api/v1/orders', {
    token: buyer.token,
    body: { items: [{ productId, quantity: 1 }] },
  });
const orderCount = async () =>
  (await query<{ n: number }>(shop.ctx.orm.em.fork(), sql`select count(*)::int as n from orders`))[0]!.n;

describe('when Redis is down', () => {
  it('refuses commands with 503, writes nothing, and recovers when Redis returns', async () => {
    expect((await place()).status).toBe(201);
    expect((await shop.request('GET', '/admin/queues/api/queues', { token: admin.token })).status).toBe(200);
    const before = await orderCount();
    await redis.stop();
    try {
      // Answered, not hung (a hang fails the test at its timeout): no time bound on a loaded box.
      const refused = await place();
      expect([refused.status, refused.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(await orderCount()).toBe(before);

      const ready = await shop.request('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.details[0].checks.redis).toBe('DOWN');
      expect((await shop.request('GET', '/health/live')).status).toBe(200);
      // Reads that do not need Redis keep working (the product cache falls back to PostgreSQL), and so
      // do product writes, which need only PostgreSQL: the cache's invalidation fails with a warning.
      expect((await shop.request('GET', `/api/v1/products/${productId}`)).status).toBe(200);
      const renamed = await shop.request('PATCH', `/api/v1/products/${productId}`, {
        token: seller.token,
        body: { name: 'Renamed While Redis Was Down' },
      });
      expect(renamed.status).toBe(200);
      const read = await shop.request('GET', `/api/v1/products/${productId}`);
      expect([read.status, read.body.data.name]).toEqual([200, 'Renamed While Redis Was Down']);
      // Bull Board cannot read its queues: the shop's 503, not the board's 500 with Redis's error text.
      const board = await shop.request('GET', '/admin/queues/api/queues', { token: admin.token });
      expect([board.status, board.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    } finally {
      await redis.start();
    }
    // Once Redis is back no cached copy from before the outage shows the old name.
    const afterwards = await shop.request('GET', `/api/v1/products/${productId}`);
    expect(afterwards.body.data.name).toBe('Renamed While Redis Was Down');
    const recovered = await eventually(
      async () => {
        const res = await place();
        return res.status === 201 ? res : undefined;
      },
      20_000,
      250,
    );
    expect(recovered!.body.data.status).toBe('PENDING');
  }, 40_000);
});

describe('when PostgreSQL is down', () => {
  it('refuses commands with 503 before enqueueing anything, and reports not ready', async () => {
    // The ids of the placement jobs in the mailboxes. An earlier placement's job may still be finishing
    // (its reply goes out before the job completes and is removed): only a job that was not there
    // before would be an enqueued command.
    const placementJobIds = async () => {
      const jobs = await Promise.all(
        shop.ctx.queues.orderShards.map((shard) =>
          shard.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']),
        ),
      );
      return jobs
        .flat()
        .flatMap((job) => (job.name === 'PLACE' || job.name === ORDER_PLACE_BATCH ? [job.id] : []));
    };
    const before = new Set(await placementJobIds());
    await postgres.stop();
    try {
      await eventually(async () => !shop.ctx.dependencies.isUp('database'), 20_000);
      const refused = await place();
      expect([refused.status, refused.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect((await placementJobIds()).filter((id) => !before.has(id))).toEqual([]);
      const ready = await shop.request('GET', '/health/ready');
      expect([ready.status, ready.body.details[0].checks.database]).toEqual([503, 'DOWN']);
      const read = await shop.request('GET', '/api/v1/orders', { token: buyer.token });
      expect([read.status, read.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(read.body)).not.toMatch(/at .*\.ts|ECONNREFUSED/);
      // Product writes and the product list need PostgreSQL: 503, nothing half-written.
      const created = await shop.request('POST', '/api/v1/products', {
        token: seller.token,
        body: {
          name: 'Made During The Outage',
          description: 'x',
          price: 1000,
          category: 'outage',
          brand: 'Test',
          initialStock: 1,
        },
      });
      expect([created.status, created.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      const patched = await shop.request('PATCH', `/api/v1/products/${productId}`, {
        token: seller.token,
        body: { price: 1 },
      });
      expect([patched.status, patched.body.error]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect((await shop.request('GET', '/api/v1/products?category=outage')).status).toBe(503);
    } finally {
      await postgres.start();
    }
    await eventually(async () => shop.ctx.dependencies.isUp('database'), 20_000);
    expect((await place()).status).toBe(201);
    const after = await shop.request('GET', `/api/v1/products/${productId}`);
    expect(after.body.data.price).not.toBe(1);
    const [made] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from products where name = 'Made During The Outage'`,
    );
    expect(made!.n).toBe(0);
  }, 60_000);
});
