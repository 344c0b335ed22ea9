import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { outboxWakeChannel, wakeOutboxRelay } from '../../src/messaging/outbox-signal';
import { commandOrder } from '../../src/orders/order-commands';
import { createProduct } from '../support/catalog';
import { eventsSettled, rows } from '../support/events';
import { buyerCommand, placeOrder } from '../support/orders';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { watchStatements } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually, spawnWorkerProcess } from '../support/worker-process';

/** A buyer's cancellation committed straight through the order's step: no Redis involved. */
async function cancelDirectly(shop: TestShop, buyer: TestUser, orderId: string) {
  await shop.ctx.orm.em
    .fork()
    .transactional((em) => commandOrder(em, 'CANCEL', { ...buyerCommand(buyer), orderId }, new Date()));
}

const outboxOf = (shop: TestShop, orderIds: string[]) =>
  rows<{ id: string; type: string; status: string; attempts: number }>(
    shop,
    sql`select id, type, status, attempts from outbox_events
        where queue = 'events' and aggregate_id = any(${orderIds}::text[]) order by created_at, id`,
  );

/** An outbox row committed as a step commits it, and the relay woken as the step wakes it. */
async function insertOutboxRow(
  shop: TestShop,
  queue: string,
  type: string,
  payload: Record<string, unknown>,
  wake = true,
) {
  const id = uuidv7();
  await rows(
    shop,
    sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                   next_attempt_at, created_at)
        values (${id}, 'coupon', ${uuidv7()}, ${type}, ${JSON.stringify(payload)}::jsonb, ${queue}, 'PENDING', 0,
                now(), now())`,
  );
  // Saying, as a commit does, whether an actor message is among its rows.
  if (wake) await wakeOutboxRelay(shop.ctx, queue === 'events');
  return id;
}

const outboxStatusOf = async (shop: TestShop, id: string) =>
  (await rows<{ status: string }>(shop, sql`select status from outbox_events where id = ${id}`))[0]!.status;

const couponIssued = (userId: string) => ({ userId, code: 'WELCOME' });

const notified = async (shop: TestShop, orderIds: string[], type: string) => {
  const [row] = await rows<{ n: number }>(
    shop,
    sql`select count(*)::int as n from notifications where order_id = any(${orderIds}::uuid[]) and type = ${type}`,
  );
  return row!.n;
};

describe('prompt delivery', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // The relay polls once an hour: within the test's deadline only the wake-ups after commit deliver.
    shop = await createTestShop({ WORKERS: 'all', OUTBOX_POLL_INTERVAL_MS: '3600000' });
  });
  afterAll(() => shop?.close());

  it('sends every event on the wake-up of its commit, also when commits land while a batch is being published', async () => {
    const seller = await shop.createUser('SELLER');
    const buyers = await Promise.all(Array.from({ length: 10 }, () => shop.createUser('BUYER')));
    const productId = await createProduct(shop, seller, { stock: 1000 });
    for (let round = 0; round < 3; round++) {
      await Promise.all(buyers.map((b) => placeOrder(shop, b, [{ productId, quantity: 1 }])));
    }
    await eventsSettled(shop, 15_000);
    const [sent] = await rows<{ n: number }>(
      shop,
      sql`select count(*)::int as n from outbox_events where queue = 'events' and status = 'SENT'`,
    );
    expect(sent!.n).toBeGreaterThanOrEqual(30);
  }, 30_000);

  it('wakes the relay of its own process in memory: nothing goes over the wake-up channel', async () => {
    const heard = await listenToWakeUps(shop);
    try {
      const seller = await shop.createUser('SELLER');
      const buyer = await shop.createUser('BUYER');
      const productId = await createProduct(shop, seller, { stock: 100 });
      const orders = await Promise.all(
        Array.from({ length: 5 }, () => placeOrder(shop, buyer, [{ productId, quantity: 1 }])),
      );
      // Delivered (the relay polls hourly: only wake-ups deliver within the deadline) …
      await eventually(
        async () =>
          (await notified(
            shop,
            orders.map((o) => o.id),
            'ORDER_CREATED',
          )) === 5,
      );
      // … and not one wake-up published: the steps' commits told the relay beside them.
      expect(heard.messages).toEqual([]);
    } finally {
      await heard.close();
    }
  }, 30_000);
});

/** How many connections listen on the wake-up channel. */
async function wakeUpListeners(shop: TestShop): Promise<number> {
  const reply = (await shop.ctx.redis.pubsub(
    'NUMSUB',
    outboxWakeChannel(shop.config.redisPrefix),
  )) as unknown[];
  return Number(reply[1]);
}

/** The wake-ups published over Redis to the relays of other processes. */
async function listenToWakeUps(shop: TestShop) {
  const subscriber = new Redis(shop.config.redisUrl, { maxRetriesPerRequest: 1 });
  const messages: string[] = [];
  subscriber.on('message', (_channel, message: string) => messages.push(message));
  await subscriber.subscribe(outboxWakeChannel(shop.config.redisPrefix));
  return { messages, close: () => subscriber.quit().then(() => undefined) };
}

describe('a commit in a process without a relay', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // The API's process: no relay here, one in a worker process that polls once an hour.
    shop = await createTestShop({ WORKERS: 'order,inventory,events', OUTBOX_POLL_INTERVAL_MS: '3600000' });
  });
  afterAll(() => shop?.close());

  it('wakes the relays of other processes over Redis', async () => {
    const relay = await spawnWorkerProcess(shop.config, {
      WORKERS: 'outbox',
      OUTBOX_POLL_INTERVAL_MS: '3600000',
    });
    const heard = await listenToWakeUps(shop);
    try {
      // The spawned relay listens too (it subscribes as it starts), so the wake-up below reaches it.
      await eventually(async () => ((await wakeUpListeners(shop)) >= 2 ? true : undefined), 15_000, 20);
      // A message to an actor (no coupon worker runs: its job only has to be added) and its wake-up.
      const id = await insertOutboxRow(shop, 'coupon', 'SWEEP', {});
      await eventually(async () => (await outboxStatusOf(shop, id)) === 'SENT', 15_000);
      expect(heard.messages).toEqual(['1']);
    } finally {
      await heard.close();
      await relay.kill('SIGTERM');
    }
  }, 60_000);
});

describe('a relay that stops', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'outbox', OUTBOX_POLL_INTERVAL_MS: '3600000' });
  });
  afterAll(() => shop?.close());

  it("hands its process's wake-ups back to Redis, for the relays of other processes", async () => {
    const heard = await listenToWakeUps(shop);
    try {
      await wakeOutboxRelay(shop.ctx); // told in memory while the relay runs
      await shop.workers.close();
      await wakeOutboxRelay(shop.ctx, true);
      await eventually(async () => (heard.messages.length > 0 ? true : undefined), 10_000, 10);
      // Published in order on one connection: had the first gone over Redis, it would come first.
      expect(heard.messages).toEqual(['events']);
    } finally {
      await heard.close();
    }
  });
});

describe('a relay stopping with rows due', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'outbox', OUTBOX_POLL_INTERVAL_MS: '3600000' });
  });
  afterAll(() => shop?.close());

  it('delivers them in a last pass before it stops', async () => {
    // Committed without a wake-up (one lost, or sent as the relay's loop ended): the hourly poll would
    // leave it to another relay or the next start.
    const id = await insertOutboxRow(shop, 'coupon', 'SWEEP', {}, false);
    expect(await outboxStatusOf(shop, id)).toBe('PENDING');
    await shop.workers.close();
    expect(await outboxStatusOf(shop, id)).toBe('SENT');
  });
});

describe('a process draining its workers', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'order,outbox',
      OUTBOX_POLL_INTERVAL_MS: '3600000',
      REPLY_TIMEOUT_MS: '0',
    });
  });
  afterAll(() => shop?.close());

  it('stops its relay after its queue workers: the rows of the jobs that drained are delivered', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 10 });
    const since = (await rows<{ now: Date }>(shop, sql`select now()`))[0]!.now;
    // The product's stock row locked: the placement's job waits on it, active, while the drain begins.
    const lock = new pg.Client({ connectionString: shop.config.databaseUrl! });
    await lock.connect();
    try {
      await lock.query('begin');
      await lock.query('select 1 from inventory where product_id = $1 for update', [productId]);
      const placed = await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 1 }] },
      });
      expect(placed.status).toBe(202);
      const orderQueue = shop.ctx.queues.orderShards[0]!;
      await eventually(async () => ((await orderQueue.getActiveCount()) > 0 ? true : undefined), 10_000, 5);
      const closed = shop.workers.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await lock.query('commit');
      await closed;
    } finally {
      await lock.end();
    }
    const written = await rows<{ type: string; status: string }>(
      shop,
      sql`select type, status from outbox_events where created_at >= ${since} order by type`,
    );
    expect(written.map((r) => r.type)).toContain('ORDER_CREATED');
    expect(written.map((r) => r.status)).toEqual(written.map(() => 'SENT'));
  }, 30_000);
});

describe('Redis stopped while events pile up', () => {
  let redis: PrivateRedis;
  let shop: TestShop;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    // Two attempts would ALERT a row almost at once if an outage were counted against it.
    shop = await createTestShop({ REDIS_URL: redis.url, WORKERS: 'all', OUTBOX_MAX_ATTEMPTS: '2' });
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  it('keeps every event PENDING without counting attempts, and delivers them all once Redis is back', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = await Promise.all(
      Array.from({ length: 6 }, () => placeOrder(shop, buyer, [{ productId, quantity: 1 }])),
    );
    const ids = orders.map((o) => o.id);
    await eventsSettled(shop);

    await redis.stop();
    for (const id of ids) await cancelDirectly(shop, buyer, id);
    // Several relay rounds fail to publish while Redis is away.
    await new Promise((r) => setTimeout(r, 3000));
    const cancellations = async () =>
      (await outboxOf(shop, ids)).filter(
        (e) => e.type === 'ORDER_CANCELLED' || e.type === 'INVENTORY_RELEASED',
      );
    expect(await cancellations()).toHaveLength(12);
    // A read can land inside a round (rows PROCESSING until released), so wait for one between rounds:
    // a counted attempt or a FAILED row would never turn back into PENDING with no attempts.
    await eventually(async () =>
      (await cancellations()).every((e) => e.status === 'PENDING' && e.attempts === 0),
    );

    await redis.start();
    await eventsSettled(shop, 30_000);
    const after = await outboxOf(shop, ids);
    expect(after.every((e) => e.status === 'SENT')).toBe(true);
    await eventually(async () => (await notified(shop, ids, 'ORDER_CANCELLED')) === 6);
    expect(await notified(shop, ids, 'ORDER_CREATED')).toBe(6);
  }, 60_000);
});

describe('a relay that died mid-batch', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // No relay in this process: rows stay where a dead relay left them until the spawned one runs.
    shop = await createTestShop({ WORKERS: 'order,inventory,events,webhooks', OUTBOX_MAX_ATTEMPTS: '3' });
  });
  afterAll(() => shop?.close());

  it('has its PROCESSING rows reclaimed and delivered by another relay; a live claim is left alone', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = await Promise.all(
      Array.from({ length: 3 }, () => placeOrder(shop, buyer, [{ productId, quantity: 1 }])),
    );
    const [abandoned, poisoned, live] = orders.map((o) => o.id) as [string, string, string];
    // As a relay killed after claiming would leave them: PROCESSING, claimed long ago.
    await rows(
      shop,
      sql`update outbox_events set status = 'PROCESSING', claimed_at = now() - interval '10 minutes'
          where aggregate_id in (${abandoned}, ${poisoned})`,
    );
    // This one's relays kept dying: one more reclaim reaches OUTBOX_MAX_ATTEMPTS.
    await rows(shop, sql`update outbox_events set attempts = 2 where aggregate_id = ${poisoned}`);
    // A relay that is alive and publishing right now.
    await rows(
      shop,
      sql`update outbox_events set status = 'PROCESSING', claimed_at = now() where aggregate_id = ${live}`,
    );

    const relay = await spawnWorkerProcess(shop.config, { WORKERS: 'outbox', OUTBOX_MAX_ATTEMPTS: '3' });
    try {
      await eventually(async () => {
        const events = await outboxOf(shop, [abandoned]);
        return events.length > 0 && events.every((e) => e.status === 'SENT');
      });
      const abandonedRows = await outboxOf(shop, [abandoned]);
      expect(abandonedRows.length).toBeGreaterThan(0);
      expect(abandonedRows.map((e) => e.attempts)).toEqual(abandonedRows.map(() => 1));
      await eventually(async () => (await notified(shop, [abandoned], 'ORDER_CREATED')) === 1);
      const poisonedRows = await outboxOf(shop, [poisoned]);
      expect(poisonedRows.length).toBeGreaterThan(0);
      expect(poisonedRows.map((e) => [e.status, e.attempts])).toEqual(poisonedRows.map(() => ['ALERTED', 3]));
      expect(relay.output()).toMatch(/outbox event ALERTED: relays kept dying/);
      const liveRows = await outboxOf(shop, [live]);
      expect(liveRows.length).toBeGreaterThan(0);
      expect(liveRows.map((e) => e.status)).toEqual(liveRows.map(() => 'PROCESSING'));
    } finally {
      await relay.kill('SIGTERM');
    }
  }, 60_000);
});

describe('a row that cannot be published', () => {
  let shop: TestShop;
  let admin: TestUser;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'all', OUTBOX_MAX_ATTEMPTS: '2' });
    admin = await shop.createUser('ADMIN');
  });
  afterAll(() => shop?.close());

  it('backs off, is ALERTED after OUTBOX_MAX_ATTEMPTS, and is delivered after an operator retries it', async () => {
    const buyer = await shop.createUser('BUYER');
    const id = uuidv7();
    // A row naming a queue that does not exist: every publish fails, not for lack of Redis.
    await rows(
      shop,
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                     next_attempt_at, created_at)
          values (${id}, 'coupon', ${buyer.id}, 'COUPON_ISSUED',
                  ${JSON.stringify({ userId: buyer.id, code: 'WELCOME' })}::jsonb, 'no-such-queue', 'PENDING', 0, now(), now())`,
    );
    const stateOf = async () =>
      (
        await rows<{
          status: string;
          attempts: number;
          last_error: string;
          next_attempt_at: string;
          created_at: string;
          sent_at: string | null;
        }>(
          shop,
          sql`select status, attempts, last_error, next_attempt_at, created_at, sent_at from outbox_events
              where id = ${id}`,
        )
      )[0]!;
    await eventually(async () => (await stateOf()).status === 'FAILED');
    const failed = await stateOf();
    expect(failed.attempts).toBe(1);
    // Backed off (1 s after the first failure), measured on the database's clock: compared with the
    // test's Date.now() it also required the row to be read within that second, which load can delay.
    expect(
      new Date(failed.next_attempt_at).getTime() - new Date(failed.created_at).getTime(),
    ).toBeGreaterThanOrEqual(1000);
    await eventually(async () => (await stateOf()).status === 'ALERTED', 30_000);
    expect(await stateOf()).toMatchObject({
      attempts: 2,
      last_error: expect.stringContaining('no-such-queue'),
    });

    // The operator fixes the cause, then retries it from the admin API.
    await rows(shop, sql`update outbox_events set queue = 'events' where id = ${id}`);
    const retry = await shop.request('POST', `/api/v1/admin/outbox/${id}/retry`, { token: admin.token });
    expect(retry.status).toBe(200);
    expect(retry.body.data).toMatchObject({ id, status: 'PENDING', attempts: 0 });
    await eventually(async () => (await stateOf()).status === 'SENT');
    await eventually(async () => {
      const [n] = await rows<{ type: string }>(
        shop,
        sql`select type from notifications where user_id = ${buyer.id} and event_id = ${id}`,
      );
      return n?.type === 'COUPON_ISSUED';
    });
  }, 30_000);
});

describe('a busy relay gathers commits', () => {
  /**
   * Events gathered for this long after each claim of some; the hourly poll never runs within the
   * test. The followers' commits, one after another, must land within one spell to be gathered: it is
   * long beside their few hundred ms on a loaded machine, and every wait below allows for it.
   */
  const GATHER_MS = 5_000;
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'all',
      OUTBOX_POLL_INTERVAL_MS: '3600000',
      OUTBOX_GATHER_MS: String(GATHER_MS),
    });
  });
  afterAll(() => shop?.close());

  /** A commit and its wake-up, as a command's commit sends it. */
  const cancel = async (buyer: TestUser, orderId: string) => {
    await cancelDirectly(shop, buyer, orderId);
    await wakeOutboxRelay(shop.ctx);
  };

  const cancellationsOf = (orderIds: string[]) =>
    rows<{ aggregate_id: string; status: string; job_id: string | null }>(
      shop,
      sql`select aggregate_id, status, job_id from outbox_events
          where queue = 'events' and type = 'ORDER_CANCELLED' and aggregate_id = any(${orderIds}::text[])`,
    );

  it('delivers a commit after an idle spell at once, and the commits that follow it in one claim and few jobs', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = await Promise.all(
      Array.from({ length: 9 }, () => placeOrder(shop, buyer, [{ productId, quantity: 1 }])),
    );
    await eventsSettled(shop, GATHER_MS + 20_000);
    const [lone, ...followers] = orders.map((o) => o.id) as [string, ...string[]];

    // Claimed on its wake-up after an idle spell, or at the end of a spell the placements' events began
    // (hence the deadline): either way its claim begins a spell.
    await cancel(buyer, lone);
    await eventually(
      async () => (await cancellationsOf([lone]))[0]?.status !== 'PENDING',
      GATHER_MS + 10_000,
      10,
    );
    // Events were just claimed: one commit after another, each with its own wake-up, gathered.
    for (const id of followers) await cancel(buyer, id);
    await eventually(
      async () => (await cancellationsOf(followers)).every((e) => e.status === 'SENT'),
      GATHER_MS + 20_000,
    );

    const sent = await cancellationsOf(followers);
    expect(sent).toHaveLength(followers.length);
    const jobs = new Set(sent.map((e) => e.job_id));
    expect(jobs.has(null)).toBe(false);
    expect(jobs.size).toBeLessThan(followers.length);
    // Delivered all the same: every cancellation reached its consumers.
    await eventually(
      async () =>
        (await notified(
          shop,
          orders.map((o) => o.id),
          'ORDER_CANCELLED',
        )) === 9,
    );
  }, 90_000);
});

describe('while events are being gathered', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // A long spell, so the test sees it: events wait for its end, an actor message does not.
    // No coupon worker: the message's job only has to be added.
    shop = await createTestShop({
      WORKERS: 'outbox,events',
      OUTBOX_POLL_INTERVAL_MS: '3600000',
      OUTBOX_GATHER_MS: '15000',
    });
  });
  afterAll(() => shop?.close());

  const insertRow = (queue: string, type: string, payload: Record<string, unknown>) =>
    insertOutboxRow(shop, queue, type, payload);
  const statusOf = (id: string) => outboxStatusOf(shop, id);

  it('delivers actor messages at once and the held events when the spell ends', async () => {
    const buyer = await shop.createUser('BUYER');
    const first = await insertRow('events', 'COUPON_ISSUED', couponIssued(buyer.id));
    await eventually(async () => (await statusOf(first)) === 'SENT', 10_000, 10);
    // The spell began with that claim: this event is left for its end …
    const held = await insertRow('events', 'COUPON_ISSUED', couponIssued(buyer.id));
    // … while a message to an actor goes out on its wake-up.
    const message = await insertRow('coupon', 'SWEEP', {});
    await eventually(async () => (await statusOf(message)) === 'SENT', 10_000, 10);
    expect(await statusOf(held)).toBe('PENDING');
    await eventually(async () => (await statusOf(held)) === 'SENT', 40_000);
  }, 60_000);
});

describe('wake-ups during a gathering spell', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'outbox,events',
      OUTBOX_POLL_INTERVAL_MS: '3600000',
      OUTBOX_GATHER_MS: '8000',
    });
  });
  afterAll(() => shop?.close());
  const insertRow = (queue: string, type: string, payload: Record<string, unknown>) =>
    insertOutboxRow(shop, queue, type, payload);
  const statusOf = (id: string) => outboxStatusOf(shop, id);

  it('claims nothing on a wake-up about events alone until the spell ends', async () => {
    const buyer = await shop.createUser('BUYER');
    const first = await insertRow('events', 'COUPON_ISSUED', couponIssued(buyer.id));
    await eventually(async () => (await statusOf(first)) === 'SENT', 10_000, 10);
    // The spell began with that claim, and its delivery is marked: the relay sleeps until the spell ends.
    let claims = 0;
    const countClaims = (text: string) => {
      if (/update outbox_events set status = 'PROCESSING'/.test(text)) claims++;
    };
    let held = '';
    await watchStatements(shop.databaseName, countClaims, async () => {
      held = await insertRow('events', 'COUPON_ISSUED', couponIssued(buyer.id));
      for (let i = 0; i < 4; i++) {
        await wakeOutboxRelay(shop.ctx, true);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    expect(claims).toBe(0);
    expect(await statusOf(held)).toBe('PENDING');
    // A wake-up about an actor message does start a pass (which leaves the events to the spell's end).
    await watchStatements(shop.databaseName, countClaims, async () => {
      await wakeOutboxRelay(shop.ctx);
      await eventually(async () => claims > 0, 10_000, 10);
    });
    expect(await statusOf(held)).toBe('PENDING');
    await eventually(async () => (await statusOf(held)) === 'SENT', 20_000);
  }, 30_000);
});
