import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { couponGateKeys } from '../../src/coupons/coupon-gate';
import { query, sql } from '../../src/db/sql';
import { createBuyers, createCoupon, gateOf, issue, storedIssuance, waitFor } from '../support/coupons';
import { databaseUrl } from '../support/databases';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 12 item 3: a stampede's winners are written to PostgreSQL in batches (one transaction per
// batch), and still none is answered 201 before PostgreSQL has its user coupon.

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ COUPON_ISSUE_RATE_PER_MIN: '5' });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

describe('winners in batches', () => {
  it('writes concurrent winners in fewer transactions than winners, each answered with its own row', async () => {
    const buyers = await createBuyers(shop, 300);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 200 });
    const answers = await Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));
    const won = answers.filter((a) => a.status === 201);
    expect(won).toHaveLength(200);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error === 'COUPON_SOLD_OUT')).toBe(
      true,
    );

    // xmin is the id of the transaction that inserted a row: a batch's rows share it.
    const rows = await query<{ id: string; tx: string }>(
      shop.ctx.orm.em.fork(),
      sql`select id, xmin::text as tx from user_coupons where coupon_id = ${coupon.id}`,
    );
    const transactions = new Set(rows.map((r) => r.tx)).size;
    expect(transactions).toBeLessThan(100);
    expect(new Set(won.map((a) => a.body.data.id))).toEqual(new Set(rows.map((r) => r.id)));
    expect(await storedIssuance(shop, coupon.id)).toMatchObject({ issued_count: 200, status: 'EXHAUSTED' });
    expect((await gateOf(shop, coupon.id)).remaining).toBe(0);
  });

  it('falls back to one transaction per winner when the gate thought more were left than PostgreSQL has', async () => {
    const buyers = await createBuyers(shop, 13);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 5 });
    for (const buyer of buyers.slice(0, 3)) expect((await issue(shop, buyer, coupon.id)).status).toBe(201);
    await shop.ctx.redis.set(couponGateKeys(shop.ctx, coupon.id).remaining, 10);
    const rest = buyers.slice(3);
    const answers = await Promise.all(rest.map((b) => issue(shop, b, coupon.id)));
    const statuses = answers.map((a) => (a.status === 201 ? '201' : `${a.status} ${a.body.error}`));
    expect(statuses.filter((s) => s === '201')).toHaveLength(2);
    expect(statuses.filter((s) => s !== '201').every((s) => s === '409 COUPON_SOLD_OUT')).toBe(true);
    const stored = await storedIssuance(shop, coupon.id);
    expect(stored).toMatchObject({ issued_count: 5, status: 'EXHAUSTED' });
    const winners = rest.filter((_, i) => answers[i]!.status === 201).map((b) => b.id);
    expect(stored.userIds.sort()).toEqual([...buyers.slice(0, 3).map((b) => b.id), ...winners].sort());
    expect((await gateOf(shop, coupon.id)).remaining).toBe(0);
  });

  it('never answers 201 when the batch loses its connection before COMMIT; the claims go back', async () => {
    const buyers = await createBuyers(shop, 8);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const blocker = new pg.Client({ connectionString: databaseUrl(shop.databaseName) });
    await blocker.connect();
    let answers: Awaited<ReturnType<typeof issue>>[];
    try {
      // The batch's INSERT waits behind this lock; then its PostgreSQL backend is terminated (a real
      // lost connection, SQLSTATE 57P01, as when PostgreSQL restarts mid-transaction).
      await blocker.query('begin');
      await blocker.query('lock table user_coupons in access exclusive mode');
      const pending = Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));
      const waiting = await waitFor(
        async () => {
          const { rows } = await blocker.query<{ pid: number }>(
            `select pid from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
          );
          return rows.length > 0 ? rows : undefined;
        },
        'the batch waiting on the lock',
        30_000,
      );
      for (const { pid } of waiting) await blocker.query('select pg_terminate_backend($1)', [pid]);
      await blocker.query('rollback');
      answers = await pending;
    } finally {
      await blocker.end();
    }
    const statuses = answers.map((a) => (a.status === 201 ? '201' : `${a.status} ${a.body.error}`));
    // Some of the 8 may have formed a second batch that committed after the lock was released: each
    // 201 must then be in PostgreSQL, and each refused buyer must not be.
    const won = buyers.filter((_, i) => answers[i]!.status === 201).map((b) => b.id);
    const refused = statuses.filter((s) => s !== '201');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((s) => s === '503 SERVICE_UNAVAILABLE')).toBe(true);
    const stored = await storedIssuance(shop, coupon.id);
    expect(stored.userIds.sort()).toEqual(won.sort());
    expect(stored.issued_count).toBe(won.length);
    const gate = await gateOf(shop, coupon.id);
    expect({ users: gate.users.sort(), remaining: gate.remaining }).toEqual({
      users: won.sort(),
      remaining: 10 - won.length,
    });
    // The refused buyers may try again, and win.
    const again = await Promise.all(
      buyers.filter((b) => !won.includes(b.id)).map((b) => issue(shop, b, coupon.id)),
    );
    expect(again.every((a) => a.status === 201)).toBe(true);
    expect((await storedIssuance(shop, coupon.id)).issued_count).toBe(8);
  });
});

describe('the lean endpoint keeps the contract', () => {
  it('answers losers in the envelope, in Korean when asked, with the request id and no-sniff headers', async () => {
    const [winner, loser] = await createBuyers(shop, 2);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    expect((await issue(shop, winner!, coupon.id)).status).toBe(201);
    const lost = await issue(shop, loser!, coupon.id, { 'accept-language': 'ko', 'x-request-id': 'rush-42' });
    expect([lost.status, lost.body]).toEqual([
      409,
      { error: 'COUPON_SOLD_OUT', message: '쿠폰이 모두 소진되었습니다' },
    ]);
    expect(lost.headers.get('x-request-id')).toBe('rush-42');
    expect(lost.headers.get('x-content-type-options')).toBe('nosniff');
    const again = await issue(shop, winner!, coupon.id);
    expect([again.status, again.body.error]).toEqual([409, 'COUPON_ALREADY_ISSUED']);
  });

  it('still limits each user to COUPON_ISSUE_RATE_PER_MIN requests a minute (429 from the same Lua step)', async () => {
    const [buyer] = await createBuyers(shop, 1);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await issue(shop, buyer!, coupon.id));
    expect(answers.map((a) => a.status)).toEqual([201, 409, 409, 409, 409, 429, 429]);
    expect(answers[5]!.body).toEqual({
      error: 'RATE_LIMITED',
      message: 'At most 5 issue requests a minute',
    });
  });

  it('refuses an unknown token (401) and a seller (403) before the gate is asked', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 3 });
    const forged = { ...seller, token: `${seller.token.slice(0, -2)}xx` };
    expect((await issue(shop, forged, coupon.id)).status).toBe(401);
    expect((await issue(shop, seller, coupon.id)).status).toBe(403);
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [], remaining: 3 });
  });
});
