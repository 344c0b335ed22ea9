import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryDriftQuery } from '../../src/catalog/inventory-actor';
import { findRowsByIndex } from '../../src/db/planner';
import { query, run, sql } from '../../src/db/sql';
import { dueOrdersQuery } from '../../src/orders/order-sweep';
import { trimProcessedMessages, trimSentOutboxRows } from '../../src/outbox/outbox-trim';
import {
  lateFailedPaymentsQuery,
  lateManualRefundsQuery,
  staleQuery,
} from '../../src/payments/payment-sweep';
import { createFixtureProduct } from '../support/order-fixtures';
import { createTestShop, type TestShop } from '../support/test-shop';

/**
 * The passes that run every few seconds for the life of the shop — the outbox trim, the
 * processed-message trim (both as trimDeliveredRecords runs them: in a transaction that finds rows by
 * index), the sweeps of due orders, the minutely check of reserved stock against PENDING orders, the
 * payment sweep's four reads — must read what they act on, not everything the
 * shop keeps: a week of SENT rows and paid orders is millions of rows in production. Here a table
 * holds many kept rows and a few due ones; each pass must read few blocks (EXPLAIN ANALYZE, BUFFERS,
 * in a transaction rolled back). The controls run the statements as they were before and read the
 * kept rows, so the bound separates the two. Statistics stay young (autovacuum off), as in the first
 * minutes of a deployment.
 */

const KEPT = 20_000;
const DUE = 7;
/** Blocks a pass may read: its due rows and index pages, not a table's worth (the kept rows fill > 1,000). */
const FEW_BLOCKS = 200;

let shop: TestShop;
let em: () => EntityManager;

interface PlanRoot {
  Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number; 'Actual Rows': number };
}

type Settings = (tx: EntityManager) => Promise<void>;
const none: Settings = async () => {};

/** What `work` returns, run after `settings` in a transaction that is then rolled back. */
async function rolledBack<T>(settings: Settings, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  const rollback = new Error('rolled back');
  let result: T | undefined;
  try {
    await em().transactional(async (tx) => {
      await settings(tx);
      result = await work(tx);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return result as T;
}

/** Runs `statement` under EXPLAIN ANALYZE in a transaction that is rolled back; its plan's root. */
const measured = (statement: RawBuilder<unknown>, settings = none) =>
  rolledBack(settings, async (tx) => {
    const [row] = await query<{ 'QUERY PLAN': PlanRoot[] }>(
      tx,
      sql`explain (analyze, buffers, format json) ${statement}`,
    );
    return row!['QUERY PLAN'][0]!;
  });
const blocksRead = (plan: PlanRoot) => plan.Plan['Shared Hit Blocks'] + plan.Plan['Shared Read Blocks'];

/** Rows `statement` would delete, in a transaction rolled back. */
const deletedBy = (statement: RawBuilder<unknown>, settings = none) =>
  rolledBack(settings, (tx) => run(tx, statement));

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none' });
  em = () => shop.ctx.orm.em.fork();
  for (const table of ['outbox_events', 'processed_messages', 'orders', 'payments', 'refunds'])
    await run(em(), sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`);
  const pad = 'x'.repeat(400);
  // SENT rows: KEPT from the last hour, DUE past the week's retention.
  await run(
    em(),
    sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, next_attempt_at,
                                   created_at, sent_at)
        select gen_random_uuid(), 'order', gen_random_uuid()::text, 'ORDER_PAID', jsonb_build_object('pad', ${pad}::text),
               'events', 'SENT', now(), t, t + interval '1 second'
        from (select now() - n * interval '100 milliseconds' as t from generate_series(1, ${KEPT}) n
              union all select now() - interval '8 days' - n * interval '1 second' from generate_series(1, ${DUE}) n) s`,
  );
  await run(
    em(),
    sql`insert into processed_messages (consumer, message_id, processed_at)
        select 'notifications', gen_random_uuid()::text || ${pad.slice(0, 60)}::text, t
        from (select now() - n * interval '100 milliseconds' as t from generate_series(1, ${KEPT}) n
              union all select now() - interval '8 days' from generate_series(1, ${DUE}) n) s`,
  );
  const buyer = (await shop.createUser('BUYER')).id;
  // PAID orders: KEPT confirm themselves days from now, DUE are past it (their timers lost).
  await run(
    em(),
    sql`insert into orders (id, order_no, user_id, status, state, snapshot, machine_version, subtotal, total,
                            expires_at, paid_at, auto_confirm_at, created_at, updated_at)
        select gen_random_uuid(), 'H' || lpad(n::text, 12, '0'), u.id, 'PAID', 'PAID.active',
               jsonb_build_object('context', jsonb_build_object('autoConfirmMs', 604800000, 'pad', ${pad}::text)),
               1, 1000, 1000, paid + interval '15 minutes', paid, paid + interval '7 days', paid, paid
        from (select n, case when n <= ${DUE} then now() - interval '8 days' else now() - interval '1 day' end as paid
              from generate_series(1, ${KEPT + DUE}) n) s, (select ${buyer}::uuid as id) u`,
  );
});
let product: string;
/** The units the PENDING orders below hold of `product`, and what its inventory row says (a drift). */
const HELD = 6;
const RESERVED = 5;

beforeAll(async () => {
  // Every kept PAID order has an item of the product (with a long name, so the items fill many blocks);
  // three PENDING orders hold HELD units of it.
  product = (await createFixtureProduct(shop, await shop.createUser('SELLER'), { initialStock: 1000 })).id;
  const buyer = (await shop.createUser('BUYER')).id;
  await run(
    em(),
    sql`insert into order_items (id, order_id, product_id, name, category, unit_price, quantity, line_total)
        select gen_random_uuid(), o.id, ${product}, repeat('Fixture ', 20), 'fixtures', 1000, 1, 1000 from orders o`,
  );
  await run(
    em(),
    sql`with pending as (
          insert into orders (id, order_no, user_id, status, state, snapshot, machine_version, subtotal, total,
                              expires_at, created_at, updated_at)
          select gen_random_uuid(), 'P' || lpad(n::text, 12, '0'), ${buyer}, 'PENDING', 'PENDING.awaitingPayment',
                 '{"context": {}}', 1, 2000, 2000, now() + interval '10 minutes', now(), now()
          from generate_series(1, 3) n returning id)
        insert into order_items (id, order_id, product_id, name, category, unit_price, quantity, line_total)
        select gen_random_uuid(), id, ${product}, 'Fixture', 'fixtures', 1000, 2, 2000 from pending`,
  );
  await run(em(), sql`update inventory set reserved = ${RESERVED} where product_id = ${product}`);
});
afterAll(async () => {
  await shop?.close();
});

describe('the outbox trim', () => {
  it(`deletes the ${DUE} SENT rows past retention, reading few blocks beside ${KEPT} kept ones`, async () => {
    expect(await deletedBy(trimSentOutboxRows(), findRowsByIndex)).toBe(DUE);
    expect(blocksRead(await measured(trimSentOutboxRows(), findRowsByIndex))).toBeLessThan(FEW_BLOCKS);
  });

  it('(control) as it was, filtered on sent_at alone, it read every SENT row kept', async () => {
    const before = sql`delete from outbox_events where id in (
        select id from outbox_events where status = 'SENT' and sent_at < now() - interval '7 days' limit 1000)`;
    expect(await deletedBy(before)).toBe(DUE);
    expect(blocksRead(await measured(before))).toBeGreaterThan(FEW_BLOCKS);
  });
});

describe('the processed-message trim', () => {
  it(`deletes the ${DUE} records past retention, reading few blocks beside ${KEPT} kept ones`, async () => {
    expect(await deletedBy(trimProcessedMessages(), findRowsByIndex)).toBe(DUE);
    expect(blocksRead(await measured(trimProcessedMessages(), findRowsByIndex))).toBeLessThan(FEW_BLOCKS);
  });
});

describe('the auto-confirm sweep', () => {
  it(`finds the ${DUE} PAID orders past their due time, reading few blocks beside ${KEPT} not due`, async () => {
    const due = await query(em(), dueOrdersQuery('autoConfirmDelay', 500));
    expect(due).toHaveLength(DUE);
    expect(blocksRead(await measured(dueOrdersQuery('autoConfirmDelay', 500)))).toBeLessThan(FEW_BLOCKS);
    // Paged by id, as the per-minute timer jobs read it.
    const firstTwo = await query(em(), dueOrdersQuery('autoConfirmDelay', 2));
    const rest = await query(em(), dueOrdersQuery('autoConfirmDelay', 500, firstTwo[1]!.id));
    expect([...firstTwo, ...rest].map((r) => r.id)).toEqual(due.map((r) => r.id));
  });

  it('(control) as it was, computing each due time from the snapshot, it read every PAID order', async () => {
    const before = sql`select id from orders o where o.status in ('PAID') and o.state in ('PAID.active')
        and paid_at <= now() - make_interval(secs => (snapshot #>> '{context,autoConfirmMs}')::bigint / 1000.0)
        order by id limit 500`;
    expect(await query(em(), before)).toHaveLength(DUE);
    expect(blocksRead(await measured(before))).toBeGreaterThan(FEW_BLOCKS);
  });
});

describe('the reserved-stock check against PENDING orders', () => {
  it(`finds the drift of the product the PENDING orders hold, reading few blocks beside ${KEPT} items of past orders`, async () => {
    expect(await query(em(), inventoryDriftQuery())).toEqual([
      { productId: product, reserved: RESERVED, heldByPendingOrders: HELD },
    ]);
    expect(blocksRead(await measured(inventoryDriftQuery()))).toBeLessThan(FEW_BLOCKS);
  });

  it('(control) as it was, joining items to PENDING orders, it read every item ever ordered', async () => {
    const before = sql`select i.product_id as "productId", i.reserved, coalesce(p.held, 0)::int as "heldByPendingOrders"
        from inventory i
        left join (select oi.product_id, sum(oi.quantity) as held from order_items oi
                   join orders o on o.id = oi.order_id and o.status in ('PENDING') group by oi.product_id) p
          on p.product_id = i.product_id
        where i.reserved <> coalesce(p.held, 0)
        order by i.product_id limit 1000`;
    expect(await query(em(), before)).toHaveLength(1);
    expect(blocksRead(await measured(before))).toBeGreaterThan(FEW_BLOCKS);
  });
});

describe('the payment sweep', () => {
  const STALE_MS = 60_000;

  beforeAll(async () => {
    // Every kept order's payment COMPLETED and partly refunded; the DUE first orders have one of each
    // kind the sweep looks for: stale in flight, failed on a gateway timeout, a refund given up on.
    await run(
      em(),
      sql`with paid as (
            insert into payments (id, order_id, user_id, method, amount, status, idempotency_key, request_hash,
                                  created_at, updated_at, completed_at)
            select gen_random_uuid(), o.id, o.user_id, 'CARD', 1000, 'COMPLETED', gen_random_uuid()::text,
                   repeat('0', 64), now(), now(), now()
            from orders o where o.status = 'PAID' returning id, order_id, user_id)
          insert into refunds (id, payment_id, order_id, user_id, requested_by, amount, restock, status,
                               idempotency_key, created_at, updated_at)
          select gen_random_uuid(), id, order_id, user_id, user_id, 100, false, 'REFUNDED', gen_random_uuid()::text,
                 now(), now()
          from paid`,
    );
    await run(
      em(),
      sql`with due as (select id, user_id from orders where status = 'PAID' order by order_no limit ${DUE}),
          stale as (
            insert into payments (id, order_id, user_id, method, amount, status, idempotency_key, request_hash,
                                  created_at, updated_at)
            select gen_random_uuid(), id, user_id, 'CARD', 1000, 'PROCESSING', gen_random_uuid()::text, repeat('0', 64),
                   now() - interval '1 hour', now() - interval '1 hour' from due returning id, order_id, user_id),
          failed as (
            insert into payments (id, order_id, user_id, method, amount, status, failure_reason, idempotency_key,
                                  request_hash, created_at, updated_at)
            select gen_random_uuid(), id, user_id, 'CARD', 1000, 'FAILED', 'GATEWAY_TIMEOUT', gen_random_uuid()::text,
                   repeat('0', 64), now(), now() from due)
          insert into refunds (id, payment_id, order_id, user_id, requested_by, amount, restock, status,
                               idempotency_key, created_at, updated_at)
          select gen_random_uuid(), id, order_id, user_id, user_id, 100, false, s.status, gen_random_uuid()::text,
                 now() - s.age, now() - s.age
          from stale, (values ('PROCESSING', interval '1 hour'), ('MANUAL', interval '1 minute')) as s(status, age)`,
    );
  });

  it.each([
    ['payments in flight past the retry window', () => staleQuery('payments', STALE_MS)],
    ['refunds in flight past the retry window', () => staleQuery('refunds', STALE_MS)],
    ['payments failed on a gateway timeout lately', () => lateFailedPaymentsQuery()],
    ['refunds given up on lately', () => lateManualRefundsQuery()],
  ])(`finds the ${DUE} %s, reading few blocks beside ${KEPT} settled`, async (_, statement) => {
    expect(await query(em(), statement())).toHaveLength(DUE);
    expect(blocksRead(await measured(statement()))).toBeLessThan(FEW_BLOCKS);
  });

  it('(control) without its index, the stale-payment read scanned every payment ever made', async () => {
    const withoutIndex: Settings = async (tx) => {
      await run(tx, sql`drop index payments_unsettled_index`);
    };
    expect(blocksRead(await measured(staleQuery('payments', STALE_MS), withoutIndex))).toBeGreaterThan(
      FEW_BLOCKS,
    );
  });
});
