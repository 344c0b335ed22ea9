import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { createProduct } from '../support/catalog';
import { newKey, pay, refund, rows, waitForOrder } from '../support/payments';
import { testSeed } from '../support/seed';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// SPEC §8.2 over a randomized run: many orders paid by random cards and balances, cancelled,
// confirmed and refunded in part or in full, concurrently; then the money is counted in SQL.
// The seed is printed; TEST_SEED=<seed> replays the same choices.
const SEED = testSeed('money-invariants');
const ORDERS = 40;

/** mulberry32: small, seedable, good enough to pick test scenarios. */
function prng(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    chance: (p: number) => next() < p,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
  };
}

const CARD_TOKENS = [
  'tok_ok',
  'tok_ok',
  'tok_ok',
  undefined,
  'tok_flaky',
  'tok_declined',
  'tok_insufficient',
  'tok_timeout',
];
/** Every answer the API may give in this run; anything else (a 500 above all) fails it. */
const ALLOWED = new Set([200, 202, 400, 409, 422]);

let shop: TestShop;
const initialBalance = new Map<string, number>();
const initialStock = new Map<string, number>();

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'all',
    PAYMENT_GATEWAY_LATENCY_MS: '3',
    PAYMENT_GATEWAY_TIMEOUT_MS: '120',
    PAYMENT_RETRY_BASE_MS: '15',
    PAYMENT_MAX_ATTEMPTS: '3',
    // A capture that lands after its caller gave up (a loaded machine makes that happen even for
    // tok_ok at this timeout) is reconciled by the sweep; let it run often.
    PAYMENT_SWEEP_INTERVAL_MS: '400',
  });
});
afterAll(() => shop?.close());

function expectAllowed(res: { status: number; body: unknown }, what: string) {
  expect(
    ALLOWED.has(res.status),
    `${what} answered ${res.status} ${JSON.stringify(res.body)} (seed ${SEED})`,
  ).toBe(true);
}

/** One order's life: maybe cancelled early, paid (sometimes twice at once), then confirmed, cancelled or refunded. */
async function liveOrder(r: ReturnType<typeof prng>, buyer: TestUser, productIds: string[]) {
  const lines = Array.from({ length: r.int(1, 3) }, () => ({
    productId: r.pick(productIds),
    quantity: r.int(1, 3),
  }));
  const placed = await shop.request('POST', '/api/v1/orders', { token: buyer.token, body: { items: lines } });
  expect(placed.status, `seed ${SEED}`).toBe(201);
  const orderId: string = placed.body.data.id;
  if (r.chance(0.08)) {
    expectAllowed(
      await shop.request('POST', `/api/v1/orders/${orderId}/cancel`, { token: buyer.token }),
      'cancel',
    );
  }

  const body = (): Record<string, unknown> =>
    r.chance(0.3)
      ? { orderId, method: 'BALANCE' }
      : { orderId, method: 'CARD', cardToken: r.pick(CARD_TOKENS) };
  const key = newKey();
  const first = body();
  const attempts = [pay(shop, buyer, first, key)];
  if (r.chance(0.2)) attempts.push(pay(shop, buyer, body()));
  if (r.chance(0.15)) attempts.push(pay(shop, buyer, first, key));
  for (const res of await Promise.all(attempts)) expectAllowed(res, 'pay');
  let order = await waitForOrder(shop, buyer, orderId);
  if (order.status !== 'PAID') return;

  const paymentId: string = order.payment.id;
  const action = r.int(0, 5);
  if (action === 1) {
    expectAllowed(
      await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token }),
      'confirm',
    );
  } else if (action === 2) {
    expectAllowed(
      await shop.request('POST', `/api/v1/orders/${orderId}/cancel`, { token: buyer.token }),
      'cancel',
    );
  } else if (action >= 3) {
    if (r.chance(0.3)) {
      expectAllowed(
        await shop.request('POST', `/api/v1/orders/${orderId}/confirm`, { token: buyer.token }),
        'confirm',
      );
    }
    // Partial refunds, sometimes racing a cancellation or a second refund, then maybe the rest.
    const requests = [
      refund(shop, buyer, { paymentId, amount: r.int(1, order.total), restock: r.chance(0.5) }),
    ];
    if (r.chance(0.3)) requests.push(refund(shop, buyer, { paymentId, amount: r.int(1, order.total) }));
    if (r.chance(0.2)) {
      requests.push(shop.request('POST', `/api/v1/orders/${orderId}/cancel`, { token: buyer.token }));
    }
    for (const res of await Promise.all(requests)) expectAllowed(res, 'refund');
    order = await waitForOrder(shop, buyer, orderId, settledRefunds);
    if (r.chance(0.5)) {
      expectAllowed(
        await refund(shop, buyer, { paymentId, ...(r.chance(0.5) ? { restock: false } : {}) }),
        'refund rest',
      );
    }
  }
  await waitForOrder(shop, buyer, orderId, settledRefunds);
}

/** No refund of the order is still on its way (its pending amount is back to zero). */
const settledRefunds = (order: { state: string; refundedAmount: number }) =>
  order.state !== 'PAID.cancelling';

describe(`money invariants over a randomized run (seed ${SEED})`, () => {
  it(`${ORDERS} orders with random cards, balances, cancellations, confirmations and refunds`, async () => {
    const r = prng(SEED);
    const seller = await shop.createUser('SELLER');
    const productIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const stock = 300;
      const id = await createProduct(shop, seller, { price: r.int(1, 20) * 1_000, stock });
      productIds.push(id);
      initialStock.set(id, stock);
    }
    const buyers: TestUser[] = [];
    for (let i = 0; i < 8; i++) {
      const balance = r.int(0, 12) * 5_000;
      const buyer = await shop.createUser('BUYER', { balance });
      buyers.push(buyer);
      initialBalance.set(buyer.id, balance);
    }
    // Scenarios are drawn up front (deterministic for a seed), then run concurrently.
    const scenarios = Array.from({ length: ORDERS }, (_, i) => ({ seed: SEED + i, buyer: r.pick(buyers) }));
    await Promise.all(scenarios.map((s) => liveOrder(prng(s.seed), s.buyer, productIds)));

    await eventually(
      async () => {
        const [busy] = await rows<{ n: number }>(
          shop,
          sql`select (select count(*) from payments where status in ('REQUESTED', 'PROCESSING'))
                   + (select count(*) from refunds where status in ('REQUESTED', 'PROCESSING'))
                   + (select count(*) from orders where state in ('PENDING.paying', 'PAID.cancelling'))
                   + (select count(*) from outbox_events where status in ('PENDING', 'PROCESSING')
                        and queue in ('order', 'payment'))
                   -- late answers of the gateway the sweep has yet to reconcile
                   + (select count(*) from payments p where p.status = 'FAILED'
                        and exists (select 1 from gateway_charges g where g.payment_id = p.id))
                   + (select count(*) from refunds r where r.status = 'MANUAL'
                        and exists (select 1 from gateway_charges g where g.refund_id = r.id))::int as n`,
        );
        return Number(busy!.n) === 0;
      },
      30_000,
      100,
    );
    await assertMoneyInvariants();
  }, 120_000);
});

/** Asserts the statement finds no order (or payment); on failure the message shows what happened to them. */
async function none(what: string, statement: ReturnType<typeof sql>) {
  const found = (await rows<{ id: string }>(shop, statement)).slice(0, 3);
  const story = await Promise.all(found.map((f) => storyOf(f.id)));
  expect(found, `${what} (seed ${SEED}): ${JSON.stringify(story)}`).toEqual([]);
}

/** An order's (or a payment's order's) payments, refunds, gateway charges and transitions. */
async function storyOf(id: string) {
  const [order] = await rows<{ id: string }>(
    shop,
    sql`select id, status, state, cancel_reason, total, refunded_amount from orders
        where id = ${id} or id = (select order_id from payments where id = ${id})`,
  );
  const orderId = order?.id ?? id;
  return {
    order,
    payments: await rows(
      shop,
      sql`select method, status, amount, refunded_amount, failure_reason, attempts from payments
          where order_id = ${orderId}`,
    ),
    refunds: await rows(
      shop,
      sql`select amount, restock, status, reason, attempts from refunds where order_id = ${orderId}`,
    ),
    charges: await rows(shop, sql`select kind, amount from gateway_charges where order_id = ${orderId}`),
    transitions: await rows(
      shop,
      sql`select to_state, event from order_transitions where order_id = ${orderId} order by at`,
    ),
  };
}

async function assertMoneyInvariants() {
  await none(
    'a PAID or CONFIRMED order has exactly one completed (possibly refunded) payment, the current one',
    sql`select o.id from orders o
        where o.status in ('PAID', 'CONFIRMED')
          and ((select count(*) from payments p where p.order_id = o.id
                 and p.status in ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')) <> 1
               or not exists (select 1 from payments p where p.id = o.payment_id
                              and p.status in ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')))`,
  );
  // "The gateway captures at most once per payment" and "never refunds more than it captured" hold here
  // by the strict gateway's own construction (unique indexes, its refund check), so they are not
  // asserted here: test/e2e/gateway-lenient.test.ts shows the shop holds them against a gateway that
  // would move the money twice.
  await none(
    'refunds never exceed the payment, and the payment counts exactly its completed refunds',
    sql`select p.id from payments p
        left join (select payment_id, sum(amount) as refunded from refunds where status = 'REFUNDED'
                   group by payment_id) r on r.payment_id = p.id
        where coalesce(r.refunded, 0) > p.amount or coalesce(r.refunded, 0) <> p.refunded_amount`,
  );
  const held = sql`(select coalesce(sum(case g.kind when 'CAPTURE' then g.amount else -g.amount end), 0)
                    from gateway_charges g where g.order_id = o.id)
                 - (select coalesce(sum(b.amount), 0) from balance_transactions b
                    where b.reference_id in (select id from payments where order_id = o.id)
                       or b.reference_id in (select id from refunds where order_id = o.id))`;
  await none(
    'a CANCELLED order keeps no money (captures − refunds = 0, debits + credits = 0)',
    sql`select o.id from orders o where o.status = 'CANCELLED' and ${held} <> 0`,
  );
  await none(
    'a PAID or CONFIRMED order holds exactly its total less what was refunded',
    sql`select o.id from orders o where o.status in ('PAID', 'CONFIRMED') and ${held} <> o.total - o.refunded_amount`,
  );
  await none(
    'a PENDING order holds nothing',
    sql`select o.id from orders o where o.status = 'PENDING' and ${held} <> 0`,
  );
  await none(
    'a FAILED payment never took money that was kept',
    sql`select p.id from payments p where p.status = 'FAILED'
          and (exists (select 1 from gateway_charges g where g.payment_id = p.id)
               or exists (select 1 from balance_transactions b where b.reference_id = p.id))`,
  );
  await none(
    'the order and its payment agree on what was refunded',
    sql`select o.id from orders o join payments p on p.id = o.payment_id
        where p.status <> 'FAILED' and o.refunded_amount <> p.refunded_amount`,
  );
  const users = await rows<{ id: string; balance: string; moved: string }>(
    shop,
    sql`select u.id, u.balance, coalesce((select sum(amount) from balance_transactions b where b.user_id = u.id), 0)
               as moved
        from users u where u.role = 'BUYER'`,
  );
  for (const u of users) {
    expect(Number(u.balance), `balance of ${u.id} (seed ${SEED})`).toBeGreaterThanOrEqual(0);
    expect(Number(u.balance) - Number(u.moved), `ledger of ${u.id} (seed ${SEED})`).toBe(
      initialBalance.get(u.id),
    );
  }
  await none(
    'every transition has exactly one audit row',
    sql`select o.id from orders o where (select count(*) from order_transitions t where t.order_id = o.id) <> o.version`,
  );
  await none(
    'reserved = Σ quantities of PENDING orders',
    sql`select i.product_id from inventory i
        left join (select oi.product_id, sum(oi.quantity) as q from order_items oi
                   join orders o on o.id = oi.order_id and o.status = 'PENDING' group by oi.product_id) p
          on p.product_id = i.product_id
        where i.reserved <> coalesce(p.q, 0)`,
  );
  await none(
    'only paid orders committed stock; only fully refunded ones restocked',
    sql`select o.id from orders o
        where exists (select 1 from outbox_events e where e.aggregate_id = o.id::text and e.type = 'INVENTORY_COMMITTED')
                <> (o.paid_at is not null)
           or (exists (select 1 from outbox_events e where e.aggregate_id = o.id::text and e.type = 'INVENTORY_RESTOCKED')
               and o.refunded_amount <> o.total)`,
  );
  const stock = await rows<{ product_id: string; stock: number; sold: string; restocked: string }>(
    shop,
    sql`select i.product_id, i.stock,
               coalesce(sum(oi.quantity) filter (where exists (select 1 from outbox_events e
                 where e.aggregate_id = oi.order_id::text and e.type = 'INVENTORY_COMMITTED')), 0) as sold,
               coalesce(sum(oi.quantity) filter (where exists (select 1 from outbox_events e
                 where e.aggregate_id = oi.order_id::text and e.type = 'INVENTORY_RESTOCKED')), 0) as restocked
        from inventory i left join order_items oi on oi.product_id = i.product_id
        group by i.product_id, i.stock`,
  );
  for (const s of stock) {
    expect(s.stock, `stock of ${s.product_id} (seed ${SEED})`).toBe(
      initialStock.get(s.product_id)! - Number(s.sold) + Number(s.restocked),
    );
  }
  // The run is only worth something if it reached the interesting states.
  const statuses = await rows<{ status: string; n: number }>(
    shop,
    sql`select status, count(*)::int as n from orders group by status`,
  );
  const byStatus = Object.fromEntries(statuses.map((s) => [s.status, s.n]));
  expect(byStatus.CANCELLED, `seed ${SEED}`).toBeGreaterThan(0);
  expect((byStatus.PAID ?? 0) + (byStatus.CONFIRMED ?? 0), `seed ${SEED}`).toBeGreaterThan(0);
}
