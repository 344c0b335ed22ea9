import { couponGateKeys } from '../../src/coupons/coupon-gate';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import type { TestShop, TestUser } from './test-shop';

const HOUR = 3600_000;

/** A valid POST /coupons body: 10 % off, open from a minute ago for a day. */
export function couponBody(overrides: Record<string, unknown> = {}) {
  return {
    code: `C${Math.random().toString(36).slice(2, 12)}`,
    name: 'Ten percent off',
    discountType: 'PERCENTAGE',
    discountValue: 10,
    maxDiscount: 5000,
    minOrderAmount: 10_000,
    totalQuantity: 100,
    validFrom: new Date(Date.now() - 60_000).toISOString(),
    validUntil: new Date(Date.now() + 24 * HOUR).toISOString(),
    ...overrides,
  };
}

export async function createCoupon(
  shop: TestShop,
  creator: TestUser,
  overrides: Record<string, unknown> = {},
) {
  const res = await shop.request('POST', '/api/v1/coupons', {
    token: creator.token,
    body: couponBody(overrides),
  });
  if (res.status !== 201) throw new Error(`coupon not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { id: string; code: string; status: string; totalQuantity: number };
}

export const issue = (shop: TestShop, user: TestUser, couponId: string, headers?: Record<string, string>) =>
  shop.request('POST', `/api/v1/coupons/${couponId}/issue`, {
    token: user.token,
    ...(headers ? { headers } : {}),
  });

/**
 * Many buyers at once: one multi-row INSERT (shop.createUser is one round trip per user) and a
 * signed token each. They never log in, so their password hash is a placeholder.
 */
export async function createBuyers(shop: TestShop, count: number): Promise<TestUser[]> {
  const ids = Array.from({ length: count }, () => uuidv7());
  const emails = ids.map((id) => `buyer-${id}@test.local`);
  await query(
    shop.ctx.orm.em.fork(),
    sql`insert into users (id, email, name, password_hash, role, balance, version, created_at, updated_at)
        select id, email, 'Buyer', 'not-a-hash', 'BUYER', 0, 1, now(), now()
        from unnest(${ids}::uuid[], ${emails}::text[]) as t(id, email)`,
  );
  return Promise.all(
    ids.map(async (id, i) => ({
      id,
      email: emails[i]!,
      role: 'BUYER' as const,
      token: await shop.ctx.tokens.sign({ id, role: 'BUYER', tokenVersion: 0 }),
    })),
  );
}

/** What PostgreSQL holds for a coupon: its counter and status, and the holders of its user coupons. */
export async function storedIssuance(shop: TestShop, couponId: string) {
  const em = shop.ctx.orm.em.fork();
  const [coupon] = await query<{ issued_count: number; total_quantity: number; status: string }>(
    em,
    sql`select issued_count, total_quantity, status from coupons where id = ${couponId}`,
  );
  const rows = await query<{ user_id: string }>(
    em,
    sql`select user_id from user_coupons where coupon_id = ${couponId}`,
  );
  return { ...coupon!, userIds: rows.map((r) => r.user_id) };
}

/** The Redis gate of a coupon: the claimed users and the counter (null when missing). */
export async function gateOf(shop: TestShop, couponId: string) {
  const keys = couponGateKeys(shop.ctx, couponId);
  const [users, remaining] = await Promise.all([
    shop.ctx.redis.smembers(keys.users),
    shop.ctx.redis.get(keys.remaining),
  ]);
  return { users, remaining: remaining === null ? null : Number(remaining) };
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
