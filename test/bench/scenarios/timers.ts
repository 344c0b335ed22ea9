import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext, ResultRow, Scenario } from '../scenario';
import { CheckoutStages, checkout } from '../support/checkout';
import { runClosedLoop } from '../support/load';
import { outcomeSummary, round } from '../support/rows';
import { pick, placeOrder } from '../support/shop-requests';
import { CHECKOUT_SERVER_ENV } from './checkout';

const PRODUCTS = 1000;
const AMPLE_STOCK = 1_000_000;
/** Orders per half of the scenario; BENCH_TIMER_ORDERS=10000 gives issue 11's full-size figure. */
const ORDERS = Number(process.env.BENCH_TIMER_ORDERS ?? 2000);
const FIXED_WORKLOAD_DEADLINE_MS = 600_000;
const QUEUES = ['order', 'payment', 'inventory', 'coupon', 'events', 'webhooks'];

interface RedisFootprint {
  keys: number;
  usedMemory: number;
  delayedJobs: number;
}

/**
 * Issue 11's scale check: what orders leave behind in Redis. N orders are placed and left PENDING
 * (each waits for its payment window), then N more are paid (each waits for auto-confirmation).
 * After each half, once the pipeline is idle, the bench counts the shop's Redis keys, `used_memory`
 * and delayed jobs, and compares the delayed jobs with the number of distinct due seconds of the
 * PENDING orders and distinct due minutes of the PAID ones (plus the due seconds of their spent
 * payment windows, whose buckets wait until due): timers should cost O(time buckets),
 * not O(orders).
 */
export const timers: Scenario = {
  name: 'timers',
  summary: `Redis keys, memory and delayed jobs per PENDING and per PAID order (${ORDERS} of each)`,
  defaultConcurrency: 8,
  serverEnv: CHECKOUT_SERVER_ENV,
  run: async (bench, concurrency) => {
    bench.note(`seeding ${PRODUCTS} products and ${concurrency} buyers`);
    const buyers = await bench.seed.buyers(concurrency);
    const products = await bench.seed.products(PRODUCTS, { stock: AMPLE_STOCK });
    const http = bench.http(concurrency);
    const fixed = { warmupMs: 0, durationMs: FIXED_WORKLOAD_DEADLINE_MS, maxUnits: ORDERS };

    await settle(bench);
    const before = await footprint(bench);
    const since = new Date();
    const pending = await bench.phase(
      `place ${ORDERS} orders (left PENDING) @${concurrency}`,
      { concurrency, warmupMs: 0, units: ORDERS },
      (options) =>
        runClosedLoop((vu) => placeOrder(http, buyers[vu]!.token, pick(products)), { ...options, ...fixed }),
    );
    await settle(bench);
    const afterPending = await footprint(bench);
    const pendingCount = pending.load.outcomes['201'] ?? 0;

    const stages = new CheckoutStages();
    stages.measureFrom = 0;
    const paid = await bench.phase(
      `checkout ${ORDERS} orders (PAID) @${concurrency}`,
      { concurrency, warmupMs: 0, units: ORDERS },
      (options) =>
        runClosedLoop((vu) => checkout(http, buyers[vu]!.token, pick(products), stages), {
          ...options,
          ...fixed,
        }),
    );
    await settle(bench);
    const afterPaid = await footprint(bench);
    const paidCount = paid.load.outcomes.PAID ?? 0;
    const buckets = await dueBuckets(bench, since);

    const perOrder = (a: number, b: number, n: number) => (n > 0 ? round((b - a) / n, 2) : 0);
    const timerTarget = (delayed: number, bound: number) => ({
      text: `≤ ${bound.toLocaleString('en-US')} due buckets (O(time), not O(orders))`,
      met: delayed <= bound,
    });
    const rows: ResultRow[] = [
      {
        metric: `delayed jobs after ${pendingCount} PENDING orders`,
        value: afterPending.delayedJobs - before.delayedJobs,
        target: timerTarget(afterPending.delayedJobs - before.delayedJobs, buckets.pendingSeconds),
      },
      {
        metric: 'Redis keys per PENDING order',
        value: perOrder(before.keys, afterPending.keys, pendingCount),
      },
      {
        metric: 'Redis used_memory per PENDING order',
        value: perOrder(before.usedMemory, afterPending.usedMemory, pendingCount),
        unit: 'bytes',
      },
      {
        metric: `delayed jobs after ${paidCount} more PAID orders`,
        value: afterPaid.delayedJobs - afterPending.delayedJobs,
        // A paid order's payment-window bucket stays until it is due (leaving PENDING withdraws
        // nothing; the bucket's handler asks the machine): its due second counts as a bucket too.
        target: timerTarget(
          afterPaid.delayedJobs - afterPending.delayedJobs,
          buckets.paidMinutes + buckets.paidWindowSeconds,
        ),
      },
      { metric: 'Redis keys per PAID order', value: perOrder(afterPending.keys, afterPaid.keys, paidCount) },
      {
        metric: 'Redis used_memory per PAID order',
        value: perOrder(afterPending.usedMemory, afterPaid.usedMemory, paidCount),
        unit: 'bytes',
      },
      {
        metric: 'responses (place / checkout)',
        value: `${outcomeSummary(pending.load)} / ${outcomeSummary(paid.load)}`,
      },
    ];
    return { rows, phases: [pending, paid], checks: { before, afterPending, afterPaid, buckets } };
  },
};

/** Waits until the relay and every mailbox are idle, so the footprint holds no work in flight. */
async function settle(bench: BenchContext, deadlineMs = 120_000) {
  const redis = bench.redis.client;
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const { rows } = await bench.database.pool.query<{ n: string }>(
      // (Rows replayed by raw phases are due in 2100: they are not work in flight.)
      `select count(*) as n from outbox_events
        where status in ('PENDING', 'PROCESSING', 'FAILED') and next_attempt_at <= now()`,
    );
    const waiting = await Promise.all(
      QUEUES.flatMap((q) => [
        redis.llen(`${bench.redis.prefix}:bull:${q}:wait`),
        redis.llen(`${bench.redis.prefix}:bull:${q}:active`),
      ]),
    );
    if (Number(rows[0]!.n) === 0 && waiting.every((n) => n === 0)) return;
    await sleep(200);
  }
  bench.note(`the pipeline did not go idle in ${deadlineMs / 1000} s: the footprint includes work in flight`);
}

async function footprint(bench: BenchContext): Promise<RedisFootprint> {
  const redis = bench.redis.client;
  let keys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${bench.redis.prefix}:*`, 'COUNT', 5000);
    keys += found.length;
    cursor = next;
  } while (cursor !== '0');
  const info = await redis.info('memory');
  const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
  const delayed = await Promise.all(
    QUEUES.map((q) => redis.zcard(`${bench.redis.prefix}:bull:${q}:delayed`)),
  );
  return { keys, usedMemory, delayedJobs: delayed.reduce((a, b) => a + b, 0) };
}

/**
 * Distinct seconds in which the PENDING orders fall due, distinct minutes of the PAID ones'
 * confirmation, and distinct seconds in which the PAID ones' payment windows (long left) end.
 */
async function dueBuckets(bench: BenchContext, since: Date) {
  const { rows } = await bench.database.pool.query<{ pending: string; paid: string; paid_window: string }>(
    `select count(distinct date_trunc('second', expires_at)) filter (where status = 'PENDING') as pending,
            count(distinct date_trunc('minute', paid_at)) filter (where status = 'PAID') as paid,
            count(distinct date_trunc('second', expires_at)) filter (where status = 'PAID') as paid_window
       from orders where created_at >= $1`,
    [since],
  );
  return {
    pendingSeconds: Number(rows[0]!.pending),
    paidMinutes: Number(rows[0]!.paid),
    paidWindowSeconds: Number(rows[0]!.paid_window),
  };
}
