import type { EntityManager } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRowsByIndex, joinByHash } from '../../src/db/planner';
import { query, run, sql } from '../../src/db/sql';
import { unacknowledgedEvents } from '../../src/outbox/acknowledgements';
import { outboxLagQuery } from '../../src/outbox/outbox-lag';
import { createTestShop, type TestShop } from '../support/test-shop';

/**
 * The acknowledgement check runs every few seconds over the events sent since the last pass, and the
 * outbox lag endpoint over every event since a moment. Both must cost one lookup per event (or one pass
 * over each table), however young the tables' statistics: with the statistics of a table a minute old,
 * the planner expects one event and reads a whole table once per event. This data gets that plan when
 * the settings are left out (the control in each test), so each test would catch their removal.
 */

const EVENTS = 600;
const TABLES = ['outbox_events', 'processed_messages', 'webhooks', 'webhook_deliveries', 'webhook_backlog'];

let shop: TestShop;
let em: () => EntityManager;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none' });
  em = () => shop.ctx.orm.em.fork();
  // Statistics stay as young as they are now for the whole file (no analyze behind its back).
  for (const table of TABLES)
    await run(em(), sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`);
  await run(
    em(),
    sql`insert into webhooks (id, url, events, secret, active, created_by, created_at)
        values (gen_random_uuid(), 'https://hooks.example.com/shop', '{*}', 'secret', true, ${(await shop.createUser('ADMIN')).id},
                now() - interval '1 day')`,
  );
  await run(
    em(),
    sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, next_attempt_at,
                                   created_at, sent_at, consumers)
        select gen_random_uuid(), 'order', gen_random_uuid()::text, 'ORDER_PAID', '{}', 'events', 'SENT', now(),
               now() - interval '20 seconds', now() - interval '15 seconds' + n * interval '1 millisecond',
               '{notifications,sales-stats,webhooks}'
        from generate_series(1, ${EVENTS}) as n`,
  );
  // Every consumer applied every event, and every delivery went out: a healthy shop.
  await run(
    em(),
    sql`insert into processed_messages (consumer, message_id, processed_at)
        select c, e.id::text, now() from outbox_events e, unnest('{notifications,sales-stats,webhooks}'::text[]) c`,
  );
  await run(
    em(),
    sql`insert into webhook_deliveries (id, webhook_id, event_id, event_type, attempt, duration_ms, outcome, at)
        select gen_random_uuid(), w.id, e.id::text, e.type, 1, 5, 'DELIVERED', now()
        from outbox_events e, webhooks w`,
  );
});
afterAll(async () => {
  await shop?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** The plan's nodes of `statement`, planned inside a transaction after `settings`. */
async function planOf(statement: ReturnType<typeof sql>, settings?: (tx: EntityManager) => Promise<void>) {
  return em().transactional(async (tx) => {
    if (settings) await settings(tx);
    const [row] = await query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      tx,
      sql`explain (format json) ${statement}`,
    );
    return nodesOf(row!['QUERY PLAN'][0]!.Plan);
  });
}

const scans = (nodes: PlanNode[], table: string) =>
  nodes
    .filter((n) => n['Relation Name'] === table)
    .map((n) => `${n['Node Type']} ${n['Index Name'] ?? ''}`.trim());

describe('the acknowledgement check on young tables', () => {
  const window = () => unacknowledgedEvents(new Date(Date.now() - 16_000), new Date());

  it('finds every event acknowledged, looking each one up by its keys', async () => {
    const rows = await em().transactional(async (tx) => {
      await findRowsByIndex(tx);
      return query(tx, window());
    });
    expect(rows).toEqual([]);
    expect((await query(em(), sql`select count(*)::int as n from webhook_deliveries`))[0]).toEqual({
      n: EVENTS,
    });
    const nodes = await planOf(window(), findRowsByIndex);
    expect(scans(nodes, 'processed_messages').every((s) => s.startsWith('Index'))).toBe(true);
    expect(scans(nodes, 'webhook_deliveries')).toEqual(['Index Scan webhook_deliveries_event_webhook_index']);
    expect(nodes.filter((n) => n['Node Type'] === 'BitmapAnd')).toEqual([]);
  });

  it('(control) reads processed_messages whole per event without the setting', async () => {
    const nodes = await planOf(window());
    expect(scans(nodes, 'processed_messages')).toContain('Seq Scan');
  });
});

describe('the outbox lag by consumer on young tables', () => {
  const lag = () => outboxLagQuery(new Date(Date.now() - 60_000));

  it('measures every consumer of every event, joining the two tables once', async () => {
    const rows = await em().transactional(async (tx) => {
      await joinByHash(tx);
      return query(tx, lag());
    });
    expect(rows.map((r) => [r.consumer, r.events])).toEqual([
      ['notifications', EVENTS],
      ['sales-stats', EVENTS],
      ['webhooks', EVENTS],
    ]);
    const nodes = await planOf(lag(), joinByHash);
    expect(nodes.filter((n) => n['Node Type'] === 'Nested Loop')).toEqual([]);
  });

  it('(control) loops over one table per row of the other without the setting', async () => {
    const nodes = await planOf(lag());
    expect(nodes.map((n) => n['Node Type'])).toContain('Nested Loop');
  });
});
