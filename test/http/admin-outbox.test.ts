import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { rows } from '../support/events';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let admin: TestUser;
let buyer: TestUser;
const ids: Record<string, string> = {};

// No relay runs here (WORKERS=none): the rows stay exactly as the test writes them.
beforeAll(async () => {
  shop = await createTestShop();
  [admin, buyer] = await Promise.all([shop.createUser('ADMIN'), shop.createUser('BUYER')]);
  const rowsToWrite: [string, string, string, string, number][] = [
    ['sent', 'ORDER_CREATED', 'order-a', 'SENT', 50],
    ['failed', 'ORDER_PAID', 'order-a', 'FAILED', 40],
    ['alerted', 'ORDER_CREATED', 'order-b', 'ALERTED', 30],
    ['pending', 'ORDER_CANCELLED', 'order-b', 'PENDING', 20],
    ['processing', 'ORDER_CREATED', 'order-c', 'PROCESSING', 10],
  ];
  for (const [name, type, aggregateId, status, minutesAgo] of rowsToWrite) {
    ids[name] = uuidv7();
    await rows(
      shop,
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                     next_attempt_at, created_at, sent_at, last_error, claimed_at)
          values (${ids[name]}, 'order', ${aggregateId}, ${type}, ${JSON.stringify({ orderId: aggregateId })}::jsonb,
                  'events', ${status}, ${status === 'ALERTED' ? 8 : status === 'FAILED' ? 3 : 0},
                  now() + interval '1 hour', now() - make_interval(mins => ${minutesAgo}),
                  ${status === 'SENT' ? new Date() : null}, ${status === 'FAILED' || status === 'ALERTED' ? 'boom' : null},
                  ${status === 'PROCESSING' ? new Date() : null})`,
    );
  }
});
afterAll(() => shop?.close());

const get = (query = '', token = admin.token) =>
  shop.request('GET', `/api/v1/admin/outbox${query}`, { token });
const retry = (id: string, token = admin.token) =>
  shop.request('POST', `/api/v1/admin/outbox/${id}/retry`, { token });
const names = (res: { body: { data: { id: string }[] } }) =>
  res.body.data.map((r) => Object.keys(ids).find((k) => ids[k] === r.id));

describe('listing the outbox', () => {
  it('lists rows newest first with every field API.md names', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['processing', 'pending', 'alerted', 'failed', 'sent']);
    expect(res.body.data[2]).toEqual({
      id: ids.alerted,
      aggregateType: 'order',
      aggregateId: 'order-b',
      type: 'ORDER_CREATED',
      queue: 'events',
      payload: { orderId: 'order-b' },
      status: 'ALERTED',
      attempts: 8,
      createdAt: expect.any(String),
      nextAttemptAt: expect.any(String),
      sentAt: null,
      lastError: 'boom',
    });
    expect(res.body.data[4].sentAt).toEqual(expect.any(String));
    expect(res.body.meta).toEqual({ page: 0, size: 20, totalElements: 5, totalPages: 1 });
  });

  it('filters by status, type and aggregate id, and pages', async () => {
    expect(names(await get('?status=ALERTED'))).toEqual(['alerted']);
    expect(names(await get('?type=ORDER_CREATED'))).toEqual(['processing', 'alerted', 'sent']);
    expect(names(await get('?aggregateId=order-a'))).toEqual(['failed', 'sent']);
    expect(names(await get('?type=ORDER_CREATED&aggregateId=order-b'))).toEqual(['alerted']);
    const page = await get('?size=2&page=1');
    expect(names(page)).toEqual(['alerted', 'failed']);
    expect(page.body.meta).toEqual({ page: 1, size: 2, totalElements: 5, totalPages: 3 });
  });

  it('refuses bad filters, and non-admins', async () => {
    for (const query of ['?status=DONE', '?size=101', '?type=', '?page=x']) {
      const res = await get(query);
      expect([query, res.status]).toEqual([query, 400]);
    }
    expect((await get('', buyer.token)).status).toBe(403);
    expect((await shop.request('GET', '/api/v1/admin/outbox')).status).toBe(401);
  });
});

describe('retrying an outbox row', () => {
  it('puts a FAILED or ALERTED row back to PENDING, due now, attempts counted afresh', async () => {
    for (const name of ['failed', 'alerted']) {
      const res = await retry(ids[name]!);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        id: ids[name],
        status: 'PENDING',
        attempts: 0,
        lastError: 'boom',
      });
      expect(Date.parse(res.body.data.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1000);
    }
  });

  it('answers 409 OUTBOX_EVENT_NOT_RETRYABLE for rows that are SENT, PENDING or PROCESSING, changing nothing', async () => {
    for (const [name, status] of [
      ['sent', 'SENT'],
      ['pending', 'PENDING'],
      ['processing', 'PROCESSING'],
    ] as const) {
      const res = await retry(ids[name]!);
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('OUTBOX_EVENT_NOT_RETRYABLE');
      expect(res.body.message).toContain(status);
      const [row] = await rows<{ status: string }>(
        shop,
        sql`select status from outbox_events where id = ${ids[name]}`,
      );
      expect(row!.status).toBe(status);
    }
  });

  it('answers 404 for an unknown id, 400 for a malformed one, 403 for a buyer', async () => {
    expect((await retry(uuidv7())).status).toBe(404);
    expect((await retry('123')).status).toBe(400);
    expect((await retry(ids.sent!, buyer.token)).status).toBe(403);
  });
});

describe('outbox lag', () => {
  it('reports p50/p99 per consumer from commit to the consumer’s processed record', async () => {
    const created = Date.now() - 5000;
    for (const [i, lagMs] of [10, 20, 30, 40, 1000].entries()) {
      const id = uuidv7();
      await rows(
        shop,
        sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                       next_attempt_at, created_at, sent_at)
            values (${id}, 'order', ${`lag-${i}`}, 'ORDER_PAID', '{}'::jsonb, 'events', 'SENT', 0, now(),
                    ${new Date(created)}, now())`,
      );
      await rows(
        shop,
        sql`insert into processed_messages (consumer, message_id, processed_at)
            values ('sales-stats', ${id}, ${new Date(created + lagMs)})`,
      );
    }
    const res = await shop.request('GET', '/api/v1/admin/outbox/lag?sinceSeconds=60', { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      { consumer: 'sales-stats', events: 5, p50Ms: 30, p99Ms: expect.any(Number), maxMs: 1000 },
    ]);
    expect(res.body.data[0].p99Ms).toBeGreaterThan(900);
    expect(
      (await shop.request('GET', '/api/v1/admin/outbox/lag?sinceSeconds=0', { token: admin.token })).status,
    ).toBe(400);
  });
});
