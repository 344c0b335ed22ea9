import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findInventoryDrift } from '../../src/catalog/inventory-actor';
import { SOLD_OUT_MEMO_MS } from '../../src/catalog/sold-out-memo';
import { giveBackTake, stockGateKeys, takeStock } from '../../src/catalog/stock-gate';
import { reconcileStockGate } from '../../src/catalog/stock-gate-rebuild';
import { query, run, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { statementKind, statementsDuring } from '../support/query-counter';
import { type ApiResponse, createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// FLUSHALL on a Redis of this file's own: the shared one serves every other test file.
let redis: PrivateRedis;
let shop: TestShop;
let seller: TestUser;
let admin: TestUser;

beforeAll(async () => {
  redis = await startPrivateRedis();
  shop = await createTestShop({
    REDIS_URL: redis.url,
    WORKERS: 'all',
    REPLY_TIMEOUT_MS: '3000',
    COMMAND_SWEEP_INTERVAL_MS: '500',
  });
  [seller, admin] = await Promise.all([shop.createUser('SELLER'), shop.createUser('ADMIN')]);
});
afterAll(async () => {
  await shop?.close();
  await redis?.stop();
});

const place = (user: TestUser, productId: string, quantity = 1, headers: Record<string, string> = {}) =>
  shop.request('POST', '/api/v1/orders', {
    token: user.token,
    body: { items: [{ productId, quantity }] },
    headers,
  });

const gateCounter = async (productId: string) => {
  const value = await shop.ctx.redis.hget(stockGateKeys(shop.ctx).available, productId);
  return value === null ? null : Number(value);
};

const buyers = (n: number) => Promise.all(Array.from({ length: n }, () => shop.createUser('BUYER')));

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pendingUnits(productId: string): Promise<{ units: number; orders: number }> {
  const [row] = await query<{ units: number; orders: number }>(
    shop.ctx.orm.em.fork(),
    sql`select coalesce(sum(oi.quantity), 0)::int as units, count(distinct o.id)::int as orders
        from order_items oi join orders o on o.id = oi.order_id
        where oi.product_id = ${productId} and o.status = 'PENDING'`,
  );
  return row!;
}

/** Commands answered 202 (their job was lost with the flush) end once the receipt sweeper puts them back. */
async function settle202s(answers: ApiResponse[], by: TestUser[]): Promise<ApiResponse[]> {
  return Promise.all(
    answers.map(async (answer, i) => {
      if (answer.status !== 202) return answer;
      const location = answer.headers.get('location')!;
      return until(`command ${location}`, async () => {
        const res = await shop.request('GET', location, { token: by[i]!.token });
        return res.body?.data?.status === 'QUEUED' ? undefined : res;
      });
    }),
  );
}

describe('the stock gate in front of PostgreSQL', () => {
  it('200 buyers for 20 units with a FLUSHALL in the middle: no oversell, sold out after the rebuild', async () => {
    const productId = await createProduct(shop, seller, { stock: 20 });
    expect(await gateCounter(productId)).toBe(20);
    const [first, second] = [await buyers(100), await buyers(100)];

    let sold = 0;
    let secondWave: Promise<ApiResponse[]> | undefined;
    const firstWave = Promise.all(
      first.map(async (buyer) => {
        const res = await place(buyer, productId);
        if (res.status === 201 && ++sold === 5) {
          await redis.flushAll();
          secondWave = Promise.all(second.map((b) => place(b, productId)));
        }
        return res;
      }),
    );
    const answers = await settle202s([...(await firstWave), ...(await secondWave!)], [...first, ...second]);

    for (const a of answers) expect([201, 409, 200]).toContain(a.status);
    const refused = answers.filter((a) => a.status === 409 || a.body?.data?.status === 'FAILED');
    for (const r of refused) expect(r.body.error ?? r.body.data.error.error).toBe('OUT_OF_STOCK');

    // PostgreSQL decided: never more than 20, every reserved unit is a PENDING order's.
    const inventory = await inventoryOf(shop, productId);
    expect(inventory.reserved).toBeLessThanOrEqual(20);
    expect(inventory.reserved).toBe((await pendingUnits(productId)).units);

    // The rebuild raced with placements committing around it; the periodic reconciliation settles any
    // counter it left off (here run once, as the inventory actor does). Then buyers keep coming until
    // the gate says sold out: PostgreSQL is sold out too (no false 409 left), the gate agrees with it,
    // and nothing was oversold.
    await reconcileStockGate(shop.ctx, pino({ level: 'silent' }), Date.now() + 60_000);
    for (const buyer of await buyers(25)) {
      const res = await place(buyer, productId);
      if (res.status === 409) break;
      expect(res.status).toBe(201);
    }
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 20, reserved: 20, available: 0 });
    expect(await pendingUnits(productId)).toEqual({ units: 20, orders: 20 });
    expect(await gateCounter(productId)).toBe(0);
    expect(
      (await findInventoryDrift(shop.ctx.orm.em.fork())).filter((d) => d.productId === productId),
    ).toEqual([]);
  });

  it('a sold-out product is answered 409 OUT_OF_STOCK by the gate: zero SQL statements, no job', async () => {
    const productId = await createProduct(shop, seller, { stock: 1 });
    const [winner, loser] = await buyers(2);
    expect((await place(winner!, productId)).status).toBe(201);
    expect((await place(loser!, productId)).status).toBe(409); // also warms the loser's token check

    // The mailbox is paused while the loser asks, so a job added for it would still be waiting.
    let answer: ApiResponse | undefined;
    const mailboxes = shop.ctx.queues.orderShards;
    await Promise.all(mailboxes.map((q) => q.pause()));
    const statements = await statementsDuring(shop.databaseName, async () => {
      answer = await place(loser!, productId, 1, { 'accept-language': 'ko' });
    }).finally(() => Promise.all(mailboxes.map((q) => q.resume())));
    expect(answer!.status).toBe(409);
    expect(answer!.body).toEqual({
      error: 'OUT_OF_STOCK',
      message: '재고가 부족합니다',
      details: [
        { field: 'productId', message: 'not enough available stock', productId, requested: 1, available: 0 },
      ],
    });
    expect(statements.map(statementKind)).toEqual([]);
    // No job of the loser's in the mailbox, in any state (the winner's order timer may arrive
    // meanwhile through the outbox relay, so the queue's size is not the measure).
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
    const jobs = (await Promise.all(mailboxes.map((q) => q.getJobs([...states])))).flat();
    expect(jobs.filter((j) => (j.data as { userId?: string }).userId === loser!.id)).toEqual([]);
  });

  it('a retried command is answered the same and takes its units once', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const [buyer] = await buyers(1);
    const key = { 'idempotency-key': `retry-${productId}` };
    const answers = await Promise.all([1, 2, 3].map(() => place(buyer!, productId, 2, key)));
    const again = await place(buyer!, productId, 2, key);
    const ids = new Set([...answers, again].map((a) => a.body.data.id));
    expect(ids.size).toBe(1);
    expect([...answers, again].map((a) => a.status).every((s) => s === 201 || s === 200)).toBe(true);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 2, available: 3 });
    expect(await gateCounter(productId)).toBe(3);

    // The gate's own answer for one command id: taken once, the same answer after.
    const commandId = `place-gate-test-${productId}`;
    expect(await takeStock(shop.ctx, commandId, [{ productId, quantity: 3 }])).toEqual({ kind: 'TAKEN' });
    expect(await takeStock(shop.ctx, commandId, [{ productId, quantity: 3 }])).toEqual({
      kind: 'TAKEN_BEFORE',
    });
    expect(await gateCounter(productId)).toBe(0);
    expect(await giveBackTake(shop.ctx, commandId)).toBe(true);
    expect(await gateCounter(productId)).toBe(3);
  });

  it('a flushed counter of a product that sold out before the flush comes back with the reconciliation', async () => {
    // The sold-out memo answers this product's buyers without the gate, so no order rebuilds it.
    const productId = await createProduct(shop, seller, { stock: 2 });
    const [a, b, late, later] = await buyers(4);
    expect((await place(a!, productId)).status).toBe(201);
    expect((await place(b!, productId)).status).toBe(201);
    expect((await place(late!, productId)).status).toBe(409); // the gate says sold out; the memo learns it
    await redis.flushAll();
    expect((await place(later!, productId)).status).toBe(409);
    expect(await gateCounter(productId)).toBeNull();

    const result = await reconcileStockGate(shop.ctx, pino({ level: 'silent' }));
    expect(result.rebuilt).toBeGreaterThanOrEqual(1);
    expect(await gateCounter(productId)).toBe(0);
    expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 2, reserved: 2, available: 0 });
  });

  it('a drift between the gate and PostgreSQL is repaired by the reconciliation, with a log line and a metric', async () => {
    const low = await createProduct(shop, seller, { stock: 10 });
    const high = await createProduct(shop, seller, { stock: 10 });
    const [buyer] = await buyers(1);
    expect((await place(buyer!, low, 2)).status).toBe(201);
    // Redis lost a give-back (the gate says 3, PostgreSQL 8), and an operator edited stock by hand.
    await shop.ctx.redis.hset(stockGateKeys(shop.ctx).available, low, 3);
    await run(
      shop.ctx.orm.em.fork(),
      sql`update inventory set stock = 4, version = version + 1 where product_id = ${high}`,
    );

    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const result = await reconcileStockGate(shop.ctx, log);
    expect(result.repaired.sort((a, b) => a.productId.localeCompare(b.productId))).toEqual(
      [
        { productId: low, gate: 3, postgres: 8 },
        { productId: high, gate: 10, postgres: 4 },
      ].sort((a, b) => a.productId.localeCompare(b.productId)),
    );
    expect(await gateCounter(low)).toBe(8);
    expect(await gateCounter(high)).toBe(4);
    expect(lines.some((l) => l.includes('stock gate drift'))).toBe(true);
    const metrics = await shop.request('GET', '/metrics');
    expect(String(metrics.body)).toMatch(/shop_stock_gate_drift_repairs_total 2/);
    expect(String(metrics.body)).toMatch(/shop_stock_gate_drift_units_total 11/);

    // Nothing left to repair; the admin rebuild agrees.
    expect((await reconcileStockGate(shop.ctx, log)).repaired).toEqual([]);
    const rebuilt = await shop.request('POST', '/api/v1/admin/inventory/stock-gate/rebuild', {
      token: admin.token,
      body: {},
    });
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.body.data.repaired).toEqual([]);
    expect(await gateCounter(low)).toBe(8);
  });

  it('the admin rebuild restores a flushed gate from stock − reserved', async () => {
    const productId = await createProduct(shop, seller, { stock: 7 });
    const [buyer] = await buyers(1);
    expect((await place(buyer!, productId, 3)).status).toBe(201);
    await shop.ctx.redis.unlink(stockGateKeys(shop.ctx).available);
    expect(await gateCounter(productId)).toBeNull();
    const res = await shop.request('POST', '/api/v1/admin/inventory/stock-gate/rebuild', {
      token: admin.token,
      body: {},
    });
    expect(res.status).toBe(200);
    expect(res.body.data.products).toBeGreaterThanOrEqual(1);
    expect(await gateCounter(productId)).toBe(4);
    const forbidden = await shop.request('POST', '/api/v1/admin/inventory/stock-gate/rebuild', {
      token: buyer!.token,
      body: {},
    });
    expect(forbidden.status).toBe(403);
  });

  it('takes left behind are settled by the reconciliation: from their receipt, or given back when abandoned', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const [buyer] = await buyers(1);
    expect((await place(buyer!, productId, 2, { 'idempotency-key': `left-${productId}` })).status).toBe(201);
    const [receipt] = await query<{ id: string }>(
      shop.ctx.orm.em.fork(),
      sql`select id from commands where user_id = ${buyer!.id} and type = 'PLACE' and status = 'DONE'`,
    );
    // A worker died between its commit and the settle: the take is still there, the units already
    // reserved in PostgreSQL. And a take whose command never reached the mailbox.
    const keys = stockGateKeys(shop.ctx);
    await shop.ctx.redis.hset(keys.takes, receipt!.id, `${Date.now()} ${productId} 2`);
    expect(await takeStock(shop.ctx, 'place-abandoned-take', [{ productId, quantity: 3 }])).toEqual({
      kind: 'TAKEN',
    });
    expect(await gateCounter(productId)).toBe(5);

    const log = pino({ level: 'silent' });
    // Not yet stale: nothing happens.
    expect((await reconcileStockGate(shop.ctx, log)).settled).toBe(0);
    // Stale: the DONE receipt settles its take (units stay taken); the other waits for its hour.
    expect((await reconcileStockGate(shop.ctx, log, Date.now() + 60_000)).settled).toBe(1);
    expect(await shop.ctx.redis.hexists(keys.takes, receipt!.id)).toBe(0);
    expect(await gateCounter(productId)).toBe(5);
    // Abandoned: its units go back, and the counter agrees with PostgreSQL again.
    expect((await reconcileStockGate(shop.ctx, log, Date.now() + 2 * 3600_000)).settled).toBe(1);
    expect(await shop.ctx.redis.hlen(keys.takes)).toBe(0);
    expect(await gateCounter(productId)).toBe(8);
    expect(await inventoryOf(shop, productId)).toMatchObject({ available: 8 });
  });

  it("an order's lines are taken all or none: one short line leaves the others' counters alone", async () => {
    const plenty = await createProduct(shop, seller, { stock: 5 });
    const scarce = await createProduct(shop, seller, { stock: 1 });
    const [first, second] = await buyers(2);
    expect((await place(first!, scarce)).status).toBe(201);
    const refused = await shop.request('POST', '/api/v1/orders', {
      token: second!.token,
      body: {
        items: [
          { productId: plenty, quantity: 2 },
          { productId: scarce, quantity: 1 },
        ],
      },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.details).toEqual([
      {
        field: 'productId',
        message: 'not enough available stock',
        productId: scarce,
        requested: 1,
        available: 0,
      },
    ]);
    expect(await gateCounter(plenty)).toBe(5);
    expect(await gateCounter(scarce)).toBe(0);
    expect(await inventoryOf(shop, plenty)).toMatchObject({ reserved: 0 });
  });

  it('a sold-out answer is remembered in the process for a moment: no Redis call, then the gate is asked again', async () => {
    const productId = await createProduct(shop, seller, { stock: 1 });
    const [winner, loser] = await buyers(2);
    expect((await place(winner!, productId)).status).toBe(201);
    const redis = shop.ctx.redis;
    const scripts: string[] = [];
    const original = redis.evalsha.bind(redis);
    redis.evalsha = ((...args: Parameters<typeof redis.evalsha>) => {
      scripts.push(String(args[0]));
      return original(...args);
    }) as typeof redis.evalsha;
    // The memo reads Date.now(): the test holds that clock still and moves it itself, so a loaded
    // machine cannot let the moment lapse between two requests (nor does the test sleep it out).
    const start = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(start);
    try {
      expect((await place(loser!, productId)).status).toBe(409);
      expect(scripts).toHaveLength(1); // the gate said so
      expect((await place(loser!, productId)).status).toBe(409);
      expect(scripts).toHaveLength(1); // the memo said so
      clock.mockReturnValue(start + SOLD_OUT_MEMO_MS - 1);
      expect((await place(loser!, productId)).status).toBe(409);
      expect(scripts).toHaveLength(1); // the memo still, to the end of its moment
      clock.mockReturnValue(start + SOLD_OUT_MEMO_MS);
      expect((await place(loser!, productId)).status).toBe(409);
      expect(scripts).toHaveLength(2); // the gate again
    } finally {
      clock.mockRestore();
      redis.evalsha = original as typeof redis.evalsha;
    }
  });
});
