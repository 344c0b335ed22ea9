/**
 * `npm run bench:ab -- --base <rev|dir>`: this tree against another, interleaved. Both shops run at
 * once (each its own database, Redis prefix and processes, one JWT secret), and the load alternates
 * between them in short slices (ABBA order), so the box's drift — the same code measured 440 or 820
 * orders/s a few minutes apart — weighs on both sides alike. Prints each slice's rate and the shop
 * processes' CPU per operation, the medians, and in how many slice pairs each side was ahead; writes
 * bench-results/ab-<timestamp>.json. A ref is checked out as a temporary worktree sharing this tree's
 * node_modules (so it must need the same packages). Two sequential `npm run bench` runs on this box
 * differ by more than most changes do: decide with this.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { jwtTokens } from '../../src/auth/tokens';
import { CHECKOUT_SERVER_ENV } from './scenarios/checkout';
import { createCoupon } from './scenarios/coupon-rush';
import { createBenchDatabase } from './support/bench-database';
import { CheckoutStages, checkout } from './support/checkout';
import { CpuMeter } from './support/cpu';
import { createHttpClient, type HttpClient } from './support/http-client';
import { deleteRedisKeys } from './support/redis-keys';
import { Seeder } from './support/seed';
import { REPO_ROOT, startShopProcess } from './support/shop-process';
import { pick, placeOrder } from './support/shop-requests';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const note = (message: string) => process.stderr.write(`[ab] ${message}\n`);

const USAGE = `npm run bench:ab -- --base <git ref or directory> [options]

  --base <ref|dir>     the other side: a git ref (checked out as a temporary worktree) or a tree
  --scenario <name>    placement (POST /orders, 1,000 products, default @8),
                       checkout (place, pay by card, poll until PAID; counts PAID checkouts, @8),
                       product-reads (cached GET /products/{id}, 300 products, default @100) or
                       coupon-issue (POST /coupons/{id}/issue by 5,000 buyers of a 200-unit coupon,
                       then its prepared 409s and 429s, default @100) or
                       sold-out (POST /orders of a product with no stock: the flash sale's
                       409 OUT_OF_STOCK after the sell-out, default @8) or
                       order-reads (GET /orders/{id} of 50 buyers' own PENDING orders, default @100)
  --slices <n>         measured slices per side (default 10), alternating ABBA
  --slice-s <s>        seconds per slice (default 3)
  --concurrency <n>    virtual users (default: the scenario's)
  --head-env K=V       extra environment for this tree's shop (repeatable)
  --base-env K=V       extra environment for the base's shop (repeatable); same tree twice with
                       different settings: --base . --base-env X=1
`;

interface Workload {
  concurrency: number;
  /** Environment both shops need for this workload (as the scenario's own serverEnv). */
  env?: Record<string, string>;
  /** Seeds what the load needs in one side's database; returns one unit of work (true: it counted). */
  prepare: (seed: Seeder, http: HttpClient) => Promise<(vu: number) => Promise<boolean>>;
}

const WORKLOADS: Record<string, Workload> = {
  placement: {
    concurrency: 8,
    prepare: async (seed, http) => {
      const buyers = await seed.buyers(8);
      const products = await seed.products(1000, { stock: 1_000_000 });
      return async (vu) =>
        (await placeOrder(http, buyers[vu % buyers.length]!.token, pick(products))) === '201';
    },
  },
  checkout: {
    concurrency: 8,
    env: CHECKOUT_SERVER_ENV,
    prepare: async (seed, http) => {
      const buyers = await seed.buyers(8);
      const products = await seed.products(1000, { stock: 1_000_000 });
      const stages = new CheckoutStages();
      return async (vu) =>
        (await checkout(http, buyers[vu % buyers.length]!.token, pick(products), stages)) === 'PAID';
    },
  },
  'coupon-issue': {
    concurrency: 100,
    prepare: async (seed, http) => {
      const buyers = await seed.buyers(5000);
      const seller = await seed.sellerUser();
      const couponId = await createCoupon(http, seller.token, 'AB', 200);
      let next = 0;
      // After the first 200 every answer is a refusal the lane prepared (409 sold out, 429 past the limit).
      return async () => {
        const buyer = buyers[next++ % buyers.length]!;
        const res = await http.request('POST', `/api/v1/coupons/${couponId}/issue`, {
          headers: { authorization: `Bearer ${buyer.token}` },
        });
        return res.status === 201 || res.status === 409 || res.status === 429;
      };
    },
  },
  'order-reads': {
    concurrency: 100,
    prepare: async (seed, http) => {
      const buyers = await seed.buyers(50);
      const products = await seed.products(100, { stock: 1_000_000 });
      const orders: { token: string; id: string }[] = [];
      for (const buyer of buyers) {
        const res = await http.request('POST', '/api/v1/orders', {
          headers: { authorization: `Bearer ${buyer.token}` },
          body: { items: [{ productId: pick(products), quantity: 1 }] },
          readBody: true,
        });
        orders.push({
          token: buyer.token,
          id: (JSON.parse(res.body ?? '{}') as { data: { id: string } }).data.id,
        });
      }
      // A storefront's order page polling while it waits: each buyer reads its own PENDING order.
      return async () => {
        const order = pick(orders);
        const res = await http.request('GET', `/api/v1/orders/${order.id}`, {
          headers: { authorization: `Bearer ${order.token}` },
        });
        return res.status === 200;
      };
    },
  },
  'sold-out': {
    concurrency: 8,
    prepare: async (seed, http) => {
      const buyers = await seed.buyers(8);
      const [productId] = await seed.products(1, { stock: 0 });
      // Every answer is the 409 of a sold-out product (the lane's, or the router's when its memo lapsed).
      return async (vu) => (await placeOrder(http, buyers[vu % buyers.length]!.token, productId!)) === '409';
    },
  },
  'product-reads': {
    concurrency: 100,
    prepare: async (seed, http) => {
      const products = await seed.products(300, { stock: 1000 });
      for (const id of products) await http.request('GET', `/api/v1/products/${id}`); // cached from now on
      return async () => (await http.request('GET', `/api/v1/products/${pick(products)}`)).status === 200;
    },
  },
};

interface Side {
  name: 'head' | 'base';
  tree: string;
  env: Record<string, string>;
  pids: number[];
  work: (vu: number) => Promise<boolean>;
  meter: CpuMeter;
  rates: number[];
  cpuMsPerOp: number[];
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      scenario: { type: 'string', default: 'placement' },
      slices: { type: 'string', default: '10' },
      'slice-s': { type: 'string', default: '3' },
      concurrency: { type: 'string' },
      'head-env': { type: 'string', multiple: true, default: [] },
      'base-env': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  const workload = WORKLOADS[values.scenario];
  if (values.help || !values.base || !workload) {
    process.stdout.write(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const slices = Number(values.slices);
  const sliceMs = Number(values['slice-s']) * 1000;
  const concurrency = Number(values.concurrency ?? workload.concurrency);
  const base = checkoutBase(values.base);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const secret = randomBytes(32).toString('hex');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const sides: Side[] = [];
    for (const [name, tree, env] of [
      ['head', REPO_ROOT, values['head-env']],
      ['base', base.tree, values['base-env']],
    ] as const) {
      const database = await createBenchDatabase(`_${name}`);
      const prefix = `ab${name}${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
      cleanups.push(
        () => database.drop(),
        () => deleteRedisKeys(redis, prefix),
      );
      const extra = Object.fromEntries(
        env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      note(`${name}: starting the shop of ${tree} ${JSON.stringify(extra)}`);
      const shop = await startShopProcess({
        cwd: tree,
        env: {
          NODE_ENV: 'development',
          DATABASE_URL: database.url,
          REDIS_URL,
          REDIS_PREFIX: prefix,
          JWT_SECRET: secret,
          LOG_LEVEL: 'warn',
          SEED_DEMO: 'false',
          ...workload.env,
          ...extra,
        },
        logFile: join(REPO_ROOT, 'bench-results', `ab-${stamp}-${name}-server.log`),
      });
      cleanups.push(() => shop.stop());
      const http = createHttpClient(shop.baseUrl, concurrency);
      cleanups.push(() => http.close());
      const seed = new Seeder(database.pool, jwtTokens(secret, 6 * 3600), prefix, shop.baseUrl);
      const work = await workload.prepare(seed, http);
      const meter = new CpuMeter();
      meter.watchServer(shop.pids);
      sides.push({ name, tree, env: extra, pids: shop.pids, work, meter, rates: [], cpuMsPerOp: [] });
    }
    for (const side of sides) await slice(side, concurrency, sliceMs); // warm-up, not counted
    for (let i = 0; i < slices; i++) {
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        const { rate, cpuMsPerOp } = await slice(side, concurrency, sliceMs);
        side.rates.push(rate);
        side.cpuMsPerOp.push(cpuMsPerOp);
      }
    }
    report(values.scenario, concurrency, sliceMs, sides, stamp);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => note(`cleanup: ${String(err)}`));
    redis.disconnect();
    base.remove();
  }
}

/** One slice of closed-loop load on one side: units counted per second, shop CPU ms per unit. */
async function slice(side: Side, concurrency: number, ms: number) {
  const before = await side.meter.snapshot();
  const end = performance.now() + ms;
  let counted = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, vu) => {
      while (performance.now() < end) if (await side.work(vu).catch(() => false)) counted++;
    }),
  );
  const after = await side.meter.snapshot();
  const seconds = (after.at - before.at) / 1000;
  const share = side.meter.share(before, after);
  return { rate: counted / seconds, cpuMsPerOp: counted > 0 ? (share.server * seconds * 1000) / counted : 0 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function report(scenario: string, concurrency: number, sliceMs: number, sides: Side[], stamp: string) {
  const [head, base] = sides as [Side, Side];
  const headAhead = head.rates.filter((rate, i) => rate > base.rates[i]!).length;
  const lines = [
    `${scenario} @${concurrency}, ${head.rates.length} slices of ${sliceMs / 1000} s per side, alternating`,
    ...sides.map(
      (s) =>
        `${s.name.padEnd(4)} ${s.tree} ${JSON.stringify(s.env)}\n` +
        `     ops/s ${s.rates.map((r) => r.toFixed(0)).join(' ')} | median ${median(s.rates).toFixed(0)}\n` +
        `     shop CPU ms/op ${s.cpuMsPerOp.map((c) => c.toFixed(3)).join(' ')} | median ${median(s.cpuMsPerOp).toFixed(3)}`,
    ),
    `head/base: ops/s ${((100 * median(head.rates)) / median(base.rates)).toFixed(1)} %, ` +
      `CPU per op ${((100 * median(head.cpuMsPerOp)) / median(base.cpuMsPerOp)).toFixed(1)} %; ` +
      `head ahead in ${headAhead} of ${head.rates.length} slice pairs`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const file = join(REPO_ROOT, 'bench-results', `ab-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        scenario,
        concurrency,
        sliceMs,
        sides: sides.map(({ name, tree, env, rates, cpuMsPerOp }) => ({
          name,
          tree,
          env,
          rates,
          cpuMsPerOp,
        })),
        headAhead,
      },
      null,
      2,
    )}\n`,
  );
  note(`results: ${file}`);
}

/** The base tree: a directory as it is, or a ref checked out as a temporary worktree (removed after). */
function checkoutBase(ref: string): { tree: string; remove: () => void } {
  mkdirSync(join(REPO_ROOT, 'bench-results'), { recursive: true });
  if (existsSync(ref)) return { tree: resolve(ref), remove: () => undefined };
  const tree = join(mkdtempSync(join(tmpdir(), 'shop-ab-')), 'tree');
  execFileSync('git', ['worktree', 'add', '--detach', tree, ref], { cwd: REPO_ROOT, stdio: 'ignore' });
  const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (lock(tree) !== lock(REPO_ROOT))
    note(`warning: ${ref} locks other packages; it runs on this tree's node_modules`);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));
  return {
    tree,
    remove: () =>
      execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: REPO_ROOT, stdio: 'ignore' }),
  };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
