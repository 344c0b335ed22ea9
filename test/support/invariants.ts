import type { EntityManager } from '@mikro-orm/postgresql';
import { findInventoryDrift } from '../../src/catalog/inventory-actor';
import { query, sql } from '../../src/db/sql';

type Check = [string, ReturnType<typeof sql>];

/**
 * SPEC §8, read from the shop's own tables (no mock enforces any of it on the shop's behalf): each
 * query returns the rows that break one invariant. Meant for a settled shop (nothing in flight).
 */
const CHECKS: Check[] = [
  [
    'inventory: 0 ≤ reserved ≤ stock',
    sql`select product_id from inventory where reserved < 0 or reserved > stock`,
  ],
  [
    'money: a PAID or CONFIRMED order has exactly one COMPLETED payment',
    sql`select o.id from orders o where o.status in ('PAID', 'CONFIRMED')
          and (select count(*) from payments p where p.order_id = o.id and p.status = 'COMPLETED') <> 1`,
  ],
  [
    'money: one capture per paid order, for its total',
    sql`select o.id from orders o where o.status in ('PAID', 'CONFIRMED')
          and (select count(*) from gateway_charges g where g.order_id = o.id and g.kind = 'CAPTURE') <> 1`,
  ],
  [
    'money: a payment is captured at most once',
    sql`select payment_id from gateway_charges where kind = 'CAPTURE' group by payment_id having count(*) > 1`,
  ],
  [
    'money: an order that is not paid keeps no money',
    sql`select o.id from orders o where o.status in ('PENDING', 'CANCELLED')
          and coalesce((select sum(case when g.kind = 'CAPTURE' then g.amount else -g.amount end)
                        from gateway_charges g where g.order_id = o.id), 0) <> 0`,
  ],
  ['money: balances never negative', sql`select id from users where balance < 0`],
  [
    'orders: one audit row per transition',
    sql`select o.id from orders o where (select count(*) from order_transitions t where t.order_id = o.id) <> o.version`,
  ],
  [
    'events: every outbox row delivered',
    sql`select id, type, status, last_error from outbox_events where status <> 'SENT'`,
  ],
  [
    'events: every consumer that must apply an event has applied it',
    sql`select e.id, e.type, c.name from outbox_events e cross join lateral unnest(e.consumers) as c(name)
        where e.queue = 'events' and not exists (
          select 1 from processed_messages p where p.consumer = c.name and p.message_id = e.id::text)`,
  ],
  [
    'events: every order announced to its buyer once (ORDER_CREATED notification)',
    sql`select o.id from orders o
        where (select count(*) from notifications n where n.order_id = o.id and n.type = 'ORDER_CREATED') <> 1`,
  ],
  [
    'events: every paid order confirmed to its buyer once (PAYMENT_SUCCEEDED notification)',
    sql`select o.id from orders o where o.status in ('PAID', 'CONFIRMED')
          and (select count(*) from notifications n where n.order_id = o.id and n.type = 'PAYMENT_SUCCEEDED') <> 1`,
  ],
  [
    'events: sales lines exactly for paid orders (statistics)',
    sql`select o.id, o.status from orders o
        where coalesce((select sum(s.units) from sales_lines s where s.order_id = o.id), 0)
           <> case when o.status in ('PAID', 'CONFIRMED')
                   then (select sum(i.quantity) from order_items i where i.order_id = o.id) else 0 end`,
  ],
];

export async function invariantViolations(em: EntityManager, commandIds: Iterable<string> = []) {
  const violations: { invariant: string; rows: unknown[] }[] = [];
  for (const [invariant, statement] of CHECKS) {
    const rows = await query<Record<string, unknown>>(em, statement as never);
    if (rows.length > 0) violations.push({ invariant, rows: rows.slice(0, 5) });
  }
  const drift = await findInventoryDrift(em);
  if (drift.length > 0)
    violations.push({ invariant: 'inventory: reserved = Σ PENDING quantities', rows: drift });
  const ids = [...commandIds];
  const open = await query<{ id: string }>(
    em,
    sql`select t.id from unnest(${ids}::text[]) as t(id)
        where not exists (select 1 from commands c where c.id = t.id and c.status in ('DONE', 'FAILED'))`,
  );
  if (open.length > 0)
    violations.push({ invariant: 'commands: every receipt final', rows: open.slice(0, 5) });
  return violations;
}

/** Orders whose payment is still in the actors' hands (or whose step has not run yet). */
export async function ordersInFlight(em: EntityManager): Promise<number> {
  const [row] = await query<{ n: number }>(
    em,
    sql`select count(*)::int as n from orders o
        where o.state in ('PENDING.paying', 'PAID.cancelling')
           or exists (select 1 from payments p where p.order_id = o.id and p.status in ('REQUESTED', 'PROCESSING'))`,
  );
  return row!.n;
}

/**
 * Waits (up to `timeoutMs`) until no order has a payment in flight and every invariant holds, then
 * returns what still breaks (nothing, when the shop recovered) and how long it took.
 */
export async function settle(em: () => EntityManager, commandIds: Iterable<string>, timeoutMs: number) {
  const started = Date.now();
  let violations: Awaited<ReturnType<typeof invariantViolations>> = [];
  let settledAt: number | undefined;
  while (Date.now() - started < timeoutMs) {
    try {
      if (settledAt === undefined && (await ordersInFlight(em())) === 0) settledAt = Date.now();
      violations = await invariantViolations(em(), commandIds);
      if (settledAt !== undefined && violations.length === 0) break;
    } catch (error) {
      violations = [{ invariant: 'the database answers', rows: [String(error)] }];
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { violations, inFlightEndedAfterMs: settledAt === undefined ? null : settledAt - started };
}
