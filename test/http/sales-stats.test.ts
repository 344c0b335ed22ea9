import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { parseDomainEvent } from '../../src/messaging/domain-events';
import { invalidatePopularProducts } from '../../src/stats/popular-products';
import { salesStatsConsumer, syncOrderSales } from '../../src/stats/sales-stats.consumer';
import { createProduct } from '../support/catalog';
import { eventsSettled, rows } from '../support/events';
import { markPaid, placeOrder } from '../support/orders';
import { pay, waitForOrder } from '../support/payments';
import { statementsDuring } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
let admin: TestUser;
const product: Record<string, string> = {};

async function paidOrder(lines: [string, number][]) {
  const order = await placeOrder(
    shop,
    buyer,
    lines.map(([name, quantity]) => ({ productId: product[name]!, quantity })),
  );
  await markPaid(shop, buyer, order.id, order.total);
  return order;
}

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  [seller, buyer, admin] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
    shop.createUser('ADMIN'),
  ]);
  for (const [name, category, price] of [
    ['anorak', 'outerwear', 100_000],
    ['beanie', 'hats', 10_000],
    ['cap', 'hats', 20_000],
    ['duffel', 'bags', 50_000],
  ] as const) {
    product[name] = await createProduct(shop, seller, { name, category, price, stock: 1000 });
  }
  await paidOrder([['anorak', 3]]);
  await paidOrder([
    ['beanie', 2],
    ['cap', 1],
  ]);
  await paidOrder([['beanie', 3]]);
  // Not counted: still PENDING, and paid but then cancelled with a full refund.
  await placeOrder(shop, buyer, [{ productId: product.duffel!, quantity: 10 }]);
  // Paid and refunded through the payment actor itself (it runs here: WORKERS=all), which a stand-in
  // completing the refund from the test would race with.
  const refunded = await placeOrder(shop, buyer, [{ productId: product.duffel!, quantity: 6 }]);
  expect((await pay(shop, buyer, { orderId: refunded.id, method: 'CARD' })).status).toBe(202);
  await waitForOrder(shop, buyer, refunded.id, (o) => o.status === 'PAID', 30_000);
  const cancel = await shop.request('POST', `/api/v1/orders/${refunded.id}/cancel`, { token: buyer.token });
  expect(cancel.status).toBe(202);
  await waitForOrder(shop, buyer, refunded.id, (o) => o.status === 'CANCELLED', 30_000);
  await eventsSettled(shop);
}, 60_000);
afterAll(() => shop?.close());

const popular = (query = '') => shop.request('GET', `/api/v1/products/popular${query}`);
const ranking = (res: { body: { data: { product: { name: string }; unitsSold: number }[] } }) =>
  res.body.data.map((p) => [p.product.name, p.unitsSold]);
const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(new Date());

describe('popular products', () => {
  it('ranks products by units sold in orders that stayed PAID/CONFIRMED, with the full product view', async () => {
    const res = await popular();
    expect(res.status).toBe(200);
    expect(ranking(res)).toEqual([
      ['beanie', 5],
      ['anorak', 3],
      ['cap', 1],
    ]);
    expect(res.body.data[0].product).toMatchObject({
      id: product.beanie,
      category: 'hats',
      price: 10_000,
      stock: 995,
      reserved: 0,
      available: 995,
      stockStatus: 'AVAILABLE',
    });
    expect(ranking(await popular('?limit=1'))).toEqual([['beanie', 5]]);
  });

  it('serves the ranking from the cache until sales change; product views are always read fresh', async () => {
    await popular('?days=3&limit=7');
    const statements = await statementsDuring(shop.databaseName, () => popular('?days=3&limit=7'));
    expect(statements.filter((s) => s.includes('sum(units)'))).toHaveLength(0);
    expect(statements.filter((s) => s.includes('from products p'))).toHaveLength(1);
  });

  it('follows new sales (the statistics consumer invalidates the cached ranking)', async () => {
    await popular('?days=2');
    await paidOrder([['anorak', 4]]);
    await eventually(
      async () =>
        JSON.stringify(ranking(await popular('?days=2'))) ===
        JSON.stringify([
          ['anorak', 7],
          ['beanie', 5],
          ['cap', 1],
        ]),
    );
  });

  it('counts only sales of the last `days`', async () => {
    const old = await paidOrder([['duffel', 2]]);
    await eventsSettled(shop);
    await rows(
      shop,
      sql`update sales_lines set paid_at = now() - interval '5 days' where order_id = ${old.id}`,
    );
    await invalidatePopularProducts(shop.ctx);
    expect(ranking(await popular('?days=4')).find(([name]) => name === 'duffel')).toBeUndefined();
    expect(ranking(await popular('?days=6')).find(([name]) => name === 'duffel')).toEqual(['duffel', 2]);
  });

  it('is not mistaken for a product id, and refuses out-of-range parameters', async () => {
    for (const query of ['?days=0', '?days=31', '?limit=0', '?limit=51', '?days=abc', '?limit=2.5']) {
      const res = await popular(query);
      expect([query, res.status, res.body.error]).toEqual([query, 400, 'VALIDATION_ERROR']);
    }
    expect((await popular('?days=30&limit=50')).status).toBe(200);
  });
});

describe('sales report', () => {
  const report = (query: string, token = admin.token) =>
    shop.request('GET', `/api/v1/admin/stats/sales${query}`, { token });

  it('sums orders, units and revenue by business day, listing days without sales as zeros', async () => {
    const day = today();
    const yesterday = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(
      new Date(Date.now() - 86_400_000),
    );
    const res = await report(`?from=${yesterday}&to=${day}`);
    expect(res.status).toBe(200);
    // Paid today: 3 anorak, 2 beanie + 1 cap, 3 beanie, 4 anorak, and the duffel order moved back in time
    // only in sales_lines.paid_at (its business day stays today).
    expect(res.body.data).toEqual([
      { key: yesterday, orders: 0, units: 0, revenue: 0 },
      { key: day, orders: 5, units: 15, revenue: 300_000 + 40_000 + 30_000 + 400_000 + 100_000 },
    ]);
  });

  it('groups by the category at order time, highest revenue first', async () => {
    const res = await report(`?from=${today()}&to=${today()}&groupBy=category`);
    expect(res.body.data).toEqual([
      { key: 'outerwear', orders: 2, units: 7, revenue: 700_000 },
      { key: 'bags', orders: 1, units: 2, revenue: 100_000 },
      { key: 'hats', orders: 2, units: 6, revenue: 70_000 },
    ]);
  });

  it('dates a sale by its payment time in SHOP_TIMEZONE', async () => {
    const order = await placeOrder(shop, buyer, [{ productId: product.cap!, quantity: 1 }]);
    await markPaid(shop, buyer, order.id, order.total);
    await eventsSettled(shop);
    // 15:30 UTC on 1 January is already 2 January in Seoul.
    await rows(shop, sql`update orders set paid_at = '2026-01-01T15:30:00Z' where id = ${order.id}`);
    await rows(shop, sql`delete from sales_lines where order_id = ${order.id}`);
    await shop.ctx.orm.em.fork().transactional((tx) => syncOrderSales(tx, [order.id], 'Asia/Seoul'));
    expect((await report('?from=2026-01-02&to=2026-01-02')).body.data).toEqual([
      { key: '2026-01-02', orders: 1, units: 1, revenue: 20_000 },
    ]);
    expect((await report('?from=2026-01-01&to=2026-01-01')).body.data[0]).toMatchObject({ orders: 0 });
  });

  it('refuses bad ranges and non-admins', async () => {
    for (const query of [
      '',
      '?from=2026-01-02',
      '?from=2026-01-05&to=2026-01-01',
      '?from=2026-02-30&to=2026-03-01',
      '?from=2026/01/01&to=2026-01-02',
      '?from=2025-01-01&to=2026-01-02',
      '?from=2026-01-01&to=2026-01-02&groupBy=week',
    ]) {
      const res = await report(query);
      expect([query, res.status, res.body.error]).toEqual([query, 400, 'VALIDATION_ERROR']);
    }
    expect((await report('?from=2026-01-01&to=2026-01-02', buyer.token)).status).toBe(403);
  });
});

describe('the sales-stats consumer', () => {
  it("applies an events job's sales events in one transaction of two statements, each event once", async () => {
    const orders = [];
    for (const name of ['anorak', 'beanie', 'cap']) orders.push(await paidOrder([[name, 1]]));
    await eventsSettled(shop);
    const ids = orders.map((o) => o.id);
    // Their ORDER_PAID events as the relay delivers them, not yet applied by sales-stats.
    const outbox = await rows<{ id: string; type: string; aggregate_id: string; payload: unknown }>(
      shop,
      sql`select id, type, aggregate_id, payload from outbox_events
          where type = 'ORDER_PAID' and aggregate_id = any(${ids}::text[]) order by aggregate_id`,
    );
    const events = outbox.map((row) => {
      const { event } = parseDomainEvent({
        id: row.id,
        type: row.type,
        aggregateType: 'order',
        aggregateId: row.aggregate_id,
        occurredAt: new Date().toISOString(),
        data: row.payload,
      });
      return event!;
    });
    expect(events).toHaveLength(3);
    await rows(shop, sql`delete from sales_lines where order_id = any(${ids}::uuid[])`);
    await rows(
      shop,
      sql`delete from processed_messages where consumer = 'sales-stats' and message_id = any(${events.map((e) => e.id)}::text[])`,
    );

    let outcomes = new Map<string, string>();
    const statements = await statementsDuring(shop.databaseName, async () => {
      outcomes = await salesStatsConsumer.applyMany!(shop.ctx, events, shop.ctx.log);
    });
    const ofSalesStats = statements.filter(
      (s) => s.includes("'sales-stats'") || s.includes('insert into sales_lines'),
    );
    expect(ofSalesStats).toHaveLength(2);
    expect([...outcomes.values()]).toEqual(['applied', 'applied', 'applied']);
    const [lines] = await rows<{ n: number }>(
      shop,
      sql`select count(distinct order_id)::int as n from sales_lines where order_id = any(${ids}::uuid[])`,
    );
    expect(lines!.n).toBe(3);

    // Delivered again (with one of them twice): nothing applied, no sales lines touched.
    const again = await statementsDuring(shop.databaseName, async () => {
      outcomes = await salesStatsConsumer.applyMany!(shop.ctx, [...events, events[0]!], shop.ctx.log);
    });
    expect([...outcomes.values()]).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(again.filter((s) => s.includes('insert into sales_lines'))).toHaveLength(0);

    // Overlapping jobs at once, their events in any order: each event applied by exactly one of them.
    await rows(shop, sql`delete from sales_lines where order_id = any(${ids}::uuid[])`);
    await rows(
      shop,
      sql`delete from processed_messages where consumer = 'sales-stats' and message_id = any(${events.map((e) => e.id)}::text[])`,
    );
    const [a, b, c] = events as [(typeof events)[0], (typeof events)[0], (typeof events)[0]];
    const results = await Promise.all(
      [
        [c, b],
        [a, b, c],
        [b, a],
        [c, a],
      ].map((job) => salesStatsConsumer.applyMany!(shop.ctx, job, shop.ctx.log)),
    );
    const applied = results.flatMap((r) =>
      [...r].filter(([, outcome]) => outcome === 'applied').map(([id]) => id),
    );
    expect(applied.sort()).toEqual(events.map((e) => e.id).sort());
    const [restored] = await rows<{ n: number }>(
      shop,
      sql`select count(distinct order_id)::int as n from sales_lines where order_id = any(${ids}::uuid[])`,
    );
    expect(restored!.n).toBe(3);
  });
});
