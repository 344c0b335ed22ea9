import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { insertNotification } from '../../src/notifications/notifications.service';
import { createProduct } from '../support/catalog';
import { createCoupon } from '../support/coupons';
import { placeOrder } from '../support/orders';
import { pay, rows, waitForOrder } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// API.md "Envelope": every paged list takes `sort=field,asc|desc` over its own fields, ties broken by
// id in the same direction, newest first without it, and 400 VALIDATION_ERROR for anything else.

let shop: TestShop;
let admin: TestUser;
let buyer: TestUser;
let reader: TestUser;
let reviewedProductId: string;
const OUTBOX_TYPE = 'SORT_FIXTURE';
const MINUTE = 60_000;

/** Orders of different totals (two pairs tie), paid by card: orders, payments, charges and reviews. */
async function ordersPaymentsAndReviews() {
  const seller = await shop.createUser('SELLER');
  const [p30, p10, p20] = [
    await createProduct(shop, seller, { price: 30_000 }),
    await createProduct(shop, seller, { price: 10_000 }),
    await createProduct(shop, seller, { price: 20_000 }),
  ];
  reviewedProductId = p10;
  const lines = [
    { productId: p30, quantity: 1 },
    { productId: p10, quantity: 1 },
    { productId: p20, quantity: 1 },
    { productId: p10, quantity: 1 },
    { productId: p10, quantity: 2 },
  ];
  for (const line of lines) {
    const order = await placeOrder(shop, buyer, [line]);
    const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' });
    expect(res.status).toBe(202);
    await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID');
  }
  // Three purchases of p10, one review each (two tie on the rating).
  for (const rating of [4, 2, 4]) {
    const res = await shop.request('POST', `/api/v1/products/${p10}/reviews`, {
      token: buyer.token,
      body: { rating },
    });
    expect(res.status).toBe(201);
  }
}

/** The caller's notifications, created out of id order; two read (at different times), two unread. */
async function notifications() {
  const ids: string[] = [];
  for (const minutesAgo of [5, 20, 1, 10]) {
    await shop.ctx.orm.em.fork().transactional((em) =>
      insertNotification(
        em,
        {
          userId: reader.id,
          type: 'ORDER_CREATED',
          title: { en: `${minutesAgo} minutes ago`, ko: `${minutesAgo}분 전` },
          body: { en: 'body', ko: '본문' },
          orderId: null,
          eventId: uuidv7(),
        },
        new Date(Date.now() - minutesAgo * MINUTE),
      ),
    );
  }
  const listed = await shop.request('GET', '/api/v1/notifications?sort=createdAt,asc', {
    token: reader.token,
  });
  ids.push(...listed.body.data.map((n: { id: string }) => n.id));
  for (const id of [ids[2]!, ids[0]!]) {
    expect(
      (await shop.request('POST', `/api/v1/notifications/${id}/read`, { token: reader.token })).status,
    ).toBe(200);
    await sleep(5);
  }
}

/** Coupons whose creation, start and end orders all differ from each other and from the id order. */
async function coupons() {
  const now = Date.now();
  const windows = [
    { validFrom: now - 60 * MINUTE, validUntil: now + 3 * 24 * 60 * MINUTE, createdMinutesAgo: 10 },
    { validFrom: now - 120 * MINUTE, validUntil: now + 24 * 60 * MINUTE, createdMinutesAgo: 5 },
    { validFrom: now + 60 * MINUTE, validUntil: now + 2 * 24 * 60 * MINUTE, createdMinutesAgo: 20 },
  ];
  for (const w of windows) {
    const coupon = await createCoupon(shop, admin, {
      validFrom: new Date(w.validFrom).toISOString(),
      validUntil: new Date(w.validUntil).toISOString(),
    });
    await rows(
      shop,
      sql`update coupons set created_at = now() - make_interval(mins => ${w.createdMinutesAgo})
          where id = ${coupon.id}`,
    );
  }
}

/** Endpoints for an event this file never raises, created out of id and url order. */
async function webhooks() {
  for (const [host, createdMinutesAgo] of [
    ['charlie', 5],
    ['alpha', 15],
    ['bravo', 10],
  ] as const) {
    const res = await shop.request('POST', '/api/v1/admin/webhooks', {
      token: admin.token,
      body: {
        url: `https://${host}.example.com/hook`,
        events: ['INVENTORY_RESTOCKED'],
        secret: 'x'.repeat(16),
      },
    });
    expect(res.status).toBe(201);
    await rows(
      shop,
      sql`update webhooks set created_at = now() - make_interval(mins => ${createdMinutesAgo})
          where id = ${res.body.data.id}`,
    );
  }
}

/** ALERTED rows (no relay touches them) of a type of their own; attempts tie for two of them. */
async function outboxRows() {
  for (const [createdMinutesAgo, dueInMinutes, attempts] of [
    [30, 5, 3],
    [10, 50, 8],
    [40, 20, 3],
    [20, 1, 5],
  ] as const) {
    await rows(
      shop,
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                     next_attempt_at, created_at, last_error)
          values (${uuidv7()}, 'order', 'sort-fixture', ${OUTBOX_TYPE}, '{}'::jsonb, 'events', 'ALERTED',
                  ${attempts}, now() + make_interval(mins => ${dueInMinutes}),
                  now() - make_interval(mins => ${createdMinutesAgo}), 'boom')`,
    );
  }
}

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  [admin, buyer, reader] = await Promise.all([
    shop.createUser('ADMIN'),
    shop.createUser('BUYER'),
    shop.createUser('BUYER'),
  ]);
  await ordersPaymentsAndReviews();
  await notifications();
  await coupons();
  await webhooks();
  await outboxRows();
}, 90_000);
afterAll(() => shop?.close());

interface SortField {
  name: string;
  /** Timestamps reach the client in milliseconds while PostgreSQL orders by microseconds. */
  timestamp: boolean;
}

interface PagedList {
  name: string;
  path: () => string;
  token: () => string | undefined;
  /** Sortable fields besides createdAt. */
  fields: SortField[];
  rows: number;
}

const LISTS: PagedList[] = [
  {
    name: 'orders',
    path: () => '/api/v1/orders',
    token: () => buyer.token,
    fields: [{ name: 'total', timestamp: false }],
    rows: 5,
  },
  {
    name: 'payments',
    path: () => '/api/v1/payments',
    token: () => buyer.token,
    fields: [{ name: 'amount', timestamp: false }],
    rows: 5,
  },
  {
    name: 'notifications',
    path: () => '/api/v1/notifications',
    token: () => reader.token,
    fields: [{ name: 'readAt', timestamp: true }],
    rows: 4,
  },
  {
    name: 'coupons',
    path: () => '/api/v1/coupons',
    token: () => undefined,
    fields: [
      { name: 'validFrom', timestamp: true },
      { name: 'validUntil', timestamp: true },
    ],
    rows: 3,
  },
  {
    name: 'product reviews',
    path: () => `/api/v1/products/${reviewedProductId}/reviews`,
    token: () => undefined,
    fields: [{ name: 'rating', timestamp: false }],
    rows: 3,
  },
  {
    name: 'admin outbox',
    path: () => `/api/v1/admin/outbox?type=${OUTBOX_TYPE}`,
    token: () => admin.token,
    fields: [
      { name: 'nextAttemptAt', timestamp: true },
      { name: 'attempts', timestamp: false },
    ],
    rows: 4,
  },
  {
    name: 'admin webhooks',
    path: () => '/api/v1/admin/webhooks',
    token: () => admin.token,
    fields: [{ name: 'url', timestamp: false }],
    rows: 3,
  },
  {
    name: 'admin gateway charges',
    path: () => '/api/v1/admin/gateway/charges',
    token: () => admin.token,
    fields: [{ name: 'amount', timestamp: false }],
    rows: 5,
  },
];

const get = (list: PagedList, query: string) => {
  const path = list.path();
  return shop.request('GET', query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path, {
    token: list.token(),
  });
};

type Row = { id: string } & Record<string, unknown>;
const ids = (res: { body: { data: Row[] } }) => res.body.data.map((r) => r.id);

/** PostgreSQL's order: null after every value (so first when descending). */
function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/** Every neighbour pair in order by `field`, then by id the same way when the field ties. */
function expectOrdered(data: Row[], field: SortField, direction: 'asc' | 'desc', label: string) {
  const sign = direction === 'asc' ? 1 : -1;
  for (let i = 1; i < data.length; i++) {
    const [a, b] = [data[i - 1]!, data[i]!];
    const byField = sign * compare(a[field.name], b[field.name]);
    const where = `${label}: ${a[field.name]} (${a.id}) before ${b[field.name]} (${b.id})`;
    expect(byField, where).toBeLessThanOrEqual(0);
    // Equal milliseconds may still differ in microseconds; other ties must fall to the id.
    if (byField === 0 && !(field.timestamp && a[field.name] !== null)) {
      expect(sign * compare(a.id, b.id), `${where}: the tie goes by id`).toBeLessThan(0);
    }
  }
}

const CREATED_AT: SortField = { name: 'createdAt', timestamp: true };

describe.each(LISTS)('GET $name', (list) => {
  it('keeps newest first without sort, the same as sort=createdAt,desc', async () => {
    const plain = await get(list, '');
    expect(plain.status).toBe(200);
    expect(plain.body.data).toHaveLength(list.rows);
    expectOrdered(plain.body.data, CREATED_AT, 'desc', 'default order');
    const newest = await get(list, 'sort=createdAt,desc');
    expect(newest.status).toBe(200);
    expect(ids(newest)).toEqual(ids(plain));
  });

  it.each([CREATED_AT, ...list.fields])(
    'sorts by $name ascending and descending, id breaking ties',
    async (field) => {
      const asc = await get(list, `sort=${field.name},asc`);
      const desc = await get(list, `sort=${field.name},desc`);
      expect([asc.status, desc.status]).toEqual([200, 200]);
      expect(asc.body.data).toHaveLength(list.rows);
      expectOrdered(asc.body.data, field, 'asc', `${field.name},asc`);
      expectOrdered(desc.body.data, field, 'desc', `${field.name},desc`);
      expect(ids(asc)).not.toEqual(ids(desc));
      expect(ids(asc)).toEqual([...ids(desc)].reverse());

      // Pages of two under the same sort add up to the whole list: nothing repeated, nothing skipped.
      const paged: string[] = [];
      for (let page = 0; page * 2 < list.rows; page++) {
        const res = await get(list, `sort=${field.name},asc&page=${page}&size=2`);
        expect(res.status).toBe(200);
        paged.push(...ids(res));
      }
      expect(paged).toEqual(ids(asc));
    },
  );

  it('refuses any other sort with 400 VALIDATION_ERROR naming sort', async () => {
    for (const sort of [
      'bogus',
      'createdAt',
      'createdAt,sideways',
      'unknownField,asc',
      'price,asc',
      'id,asc',
      'createdAt,ASC',
      'created_at,asc',
      'createdAt,asc,desc',
      'createdAt desc; drop table orders,asc',
      '',
    ]) {
      const res = await get(list, `sort=${encodeURIComponent(sort)}`);
      expect([sort, res.status, res.body.error]).toEqual([sort, 400, 'VALIDATION_ERROR']);
      expect(res.body.details, sort).toEqual([
        { field: 'query.sort', message: expect.stringContaining('createdAt,asc|desc') },
      ]);
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes sort on every paged list, with its values', async () => {
    const doc = (await shop.request('GET', '/openapi.json')).body;
    const templated = (list: PagedList) => list.path().split('?')[0]!.replace(reviewedProductId, '{id}');
    for (const list of LISTS) {
      const params = doc.paths[templated(list)].get.parameters as { name: string; in: string; schema: any }[];
      const sort = params.find((p) => p.name === 'sort' && p.in === 'query');
      expect(sort?.schema.enum, list.name).toEqual(
        ['createdAt', ...list.fields.map((f) => f.name)].flatMap((f) => [`${f},asc`, `${f},desc`]),
      );
    }
  });
});
