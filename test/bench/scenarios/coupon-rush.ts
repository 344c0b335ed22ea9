import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../src/config';
import { RawCouponClaims, shopGateKeys } from '../raw/coupon-claims';
import type { BenchContext, ResultRow, Scenario } from '../scenario';
import type { HttpClient } from '../support/http-client';
import { runClosedLoop } from '../support/load';
import { latencyRows, outcomeSummary, round } from '../support/rows';

/** Issue 5: 10,000 issue requests from distinct buyers for a coupon with 500 units. */
const REQUESTS = 10_000;
const QUANTITY = 500;
/** The warm-up's own coupon: winners touch PostgreSQL there too, so both paths are warm. */
const WARMUP_QUANTITY = 100;
/**
 * The warm-up's own buyers: the rush's buyers are new to the shop's per-process token caches (verified
 * tokens, users' standings), as a stampede's first requests are. Until 2026-12-07 the warm-up cycled
 * through the rush's buyers, so the rush found their tokens cached or not depending on how long the
 * warm-up had run (1 s: about half of them; 2 s or more: all).
 */
const WARMUP_BUYERS = 10_000;
/** The rush is a fixed workload: it ends when the last of the 10,000 requests is answered. */
const RUSH_DEADLINE_MS = 300_000;

/**
 * A first-come coupon campaign under a stampede (SPEC §9: ≥ 10,000 issue requests/s; raw Lua ≈ 80,000
 * ops/s on the reference machine): 10,000 distinct buyers (tokens signed with the shop's secret)
 * each POST /coupons/{id}/issue once for a coupon with 500 units, N at a time, then PostgreSQL and the
 * Redis gate are checked: exactly 500 issued, none twice, the gate agreeing. The warm-up's buyers are
 * others (WARMUP_BUYERS), each asking a few times a minute at most, so the per-user limit
 * COUPON_ISSUE_RATE_PER_MIN never applies: every 409 is the gate's answer. The raw ceiling is the
 * issuance's own claim script over ioredis at the same concurrency, rush after rush against fresh
 * copies of a gate with the same numbers.
 */
export const couponRush: Scenario = {
  name: 'coupon-rush',
  summary: `${REQUESTS.toLocaleString('en-US')} distinct buyers issuing a ${QUANTITY}-unit coupon vs the claim Lua script over ioredis`,
  defaultConcurrency: 100,
  run: async (bench, concurrency) => {
    bench.note(`seeding ${REQUESTS} buyers for the rush and ${WARMUP_BUYERS} for the warm-up`);
    // Other scenarios take their buyers from the front of the pool: the rush's come from its end.
    const pool = await bench.seed.buyers(WARMUP_BUYERS + REQUESTS);
    const warmupBuyers = pool.slice(0, WARMUP_BUYERS);
    const buyers = pool.slice(WARMUP_BUYERS);
    const seller = await bench.seed.sellerUser();
    const http = bench.http(concurrency);
    const rush = await createCoupon(http, seller.token, 'RUSH', QUANTITY);
    const warm = await createCoupon(http, seller.token, 'WARM', WARMUP_QUANTITY);
    const template = await createCoupon(http, seller.token, 'RAWGATE', QUANTITY);

    let warmed = 0;
    const warmup = await runClosedLoop(
      () => issue(http, warmupBuyers[warmed++ % WARMUP_BUYERS]!.token, warm),
      {
        concurrency,
        durationMs: Math.max(bench.warmupMs, 1000),
        warmupMs: 0,
      },
    );
    bench.note(`warm-up: ${outcomeSummary(warmup)}`);

    let next = 0;
    const shop = await bench.phase(
      `shop POST /coupons/{id}/issue @${concurrency}`,
      { concurrency, warmupMs: 0, units: REQUESTS },
      (options) =>
        runClosedLoop(() => issue(http, buyers[next++]!.token, rush), {
          ...options,
          durationMs: RUSH_DEADLINE_MS,
          maxUnits: REQUESTS,
        }),
    );
    const issued = await verifyIssued(bench, rush);

    const claims = new RawCouponClaims(bench.shop.env, template, REQUESTS);
    const raw = await bench
      .phase(`raw claim Lua via ioredis @${concurrency}`, { concurrency }, (options) =>
        runClosedLoop(claims.claim, options),
      )
      .finally(() => claims.close());
    const rawRuns = claims.summary(QUANTITY);

    const limit = loadConfig({ ...bench.shop.env, LOG_LEVEL: 'silent' }).couponIssueRatePerMin;
    const requests = shop.load.throughput;
    const rawOps = raw.load.throughput;
    const won = shop.load.outcomes['201'] ?? 0;
    const rows: ResultRow[] = [
      {
        metric: `issue requests/s @${concurrency}`,
        value: round(requests, 0),
        raw: { value: round(rawOps, 0), unit: 'ops/s', what: 'claim Lua via ioredis; SPEC ref ≈ 80,000' },
        ratio: requests / rawOps,
        target: { text: '≥ 10,000 req/s', met: requests >= 10_000 },
      },
      ...latencyRows(shop.load, { raw: raw.load, rawWhat: 'one EVALSHA' }),
      {
        metric: `${REQUESTS.toLocaleString('en-US')} requests answered in`,
        value: round(shop.load.elapsedS, 2),
        unit: 's',
      },
      { metric: 'responses', value: outcomeSummary(shop.load) },
      {
        metric: `issued (of ${QUANTITY})`,
        value: `${won} × 201; PostgreSQL ${issued.rows} rows, ${issued.users} users, issued_count ${issued.issuedCount}, ${issued.status}; Redis ${issued.gateUsers} users, ${issued.gateRemaining} left`,
        target: {
          text: `exactly ${QUANTITY}, none twice, gate = PostgreSQL`,
          met: issued.exact && won === QUANTITY,
        },
      },
      {
        metric: 'per-user rate limit',
        value: `${limit}/min per user; each rush buyer asked once, each warm-up buyer ≤ ${Math.ceil(warmed / WARMUP_BUYERS)} times: ${shop.load.outcomes['429 RATE_LIMITED'] ?? 0} × 429`,
      },
      {
        metric: 'raw rushes',
        value: `${rawRuns.completeRushes} complete rushes of ${REQUESTS.toLocaleString('en-US')}, ${rawRuns.exact ? `each ${QUANTITY} CLAIMED` : 'CLAIMED count off'}`,
      },
    ];
    return {
      rows,
      phases: [shop, raw],
      checks: { issued, rawRushes: rawRuns, warmup: warmup.outcomes, couponIssueRatePerMin: limit },
    };
  },
};

export async function createCoupon(
  http: HttpClient,
  token: string,
  name: string,
  quantity: number,
): Promise<string> {
  const now = Date.now();
  const res = await http.request('POST', '/api/v1/coupons', {
    headers: { authorization: `Bearer ${token}` },
    body: {
      code: `${name}-${randomUUID().slice(0, 8)}`,
      name: `Bench ${name.toLowerCase()} coupon`,
      discountType: 'FIXED',
      discountValue: 1000,
      totalQuantity: quantity,
      validFrom: new Date(now - 60_000).toISOString(),
      validUntil: new Date(now + 3600_000).toISOString(),
    },
    readBody: true,
  });
  if (res.status !== 201) throw new Error(`POST /coupons answered ${res.status}: ${res.body}`);
  return (JSON.parse(res.body!) as { data: { id: string } }).data.id;
}

/** One POST /coupons/{id}/issue: `201`, or the status with the error code (`409 COUPON_SOLD_OUT`). */
async function issue(http: HttpClient, token: string, couponId: string): Promise<string> {
  const res = await http.request('POST', `/api/v1/coupons/${couponId}/issue`, {
    headers: { authorization: `Bearer ${token}` },
    readBody: true,
  });
  if (res.status === 201) return '201';
  const code = (JSON.parse(res.body!) as { error?: string }).error;
  return code ? `${res.status} ${code}` : String(res.status);
}

/** PostgreSQL is the truth: exactly QUANTITY user coupons, one per user, and the Redis gate agreeing. */
async function verifyIssued(bench: BenchContext, couponId: string) {
  const { rows } = await bench.database.pool.query<{
    rows: number;
    users: number;
    issued_count: number;
    total_quantity: number;
    status: string;
    user_ids: string[];
  }>(
    `select (select count(*) from user_coupons where coupon_id = $1)::int as rows,
            (select count(distinct user_id) from user_coupons where coupon_id = $1)::int as users,
            c.issued_count, c.total_quantity, c.status,
            (select coalesce(array_agg(user_id::text), '{}') from user_coupons where coupon_id = $1) as user_ids
     from coupons c where c.id = $1`,
    [couponId],
  );
  const row = rows[0]!;
  const redis = new Redis(bench.redis.url, { maxRetriesPerRequest: 1 });
  try {
    const keys = shopGateKeys(bench.redis.prefix, couponId);
    const [members, remaining] = await Promise.all([redis.smembers(keys.users), redis.get(keys.remaining)]);
    const inPostgres = new Set(row.user_ids);
    const gateAgrees = members.length === inPostgres.size && members.every((m) => inPostgres.has(m));
    return {
      rows: row.rows,
      users: row.users,
      issuedCount: row.issued_count,
      status: row.status,
      gateUsers: members.length,
      gateRemaining: remaining === null ? null : Number(remaining),
      gateAgrees,
      exact:
        row.rows === QUANTITY &&
        row.users === QUANTITY &&
        row.issued_count === QUANTITY &&
        gateAgrees &&
        Number(remaining) === 0,
    };
  } finally {
    redis.disconnect();
  }
}
