import type { AppContext } from '../context';
import { luaScript } from '../coupons/lua-script';
import { db } from '../db/database';
import { sql } from '../db/sql';
import type { Logger } from '../logger';
import { waitUntilReady } from '../messaging/redis';
import { soldOutMemo } from './sold-out-memo';
import { giveBackTake, HELD_BY_TAKES_LUA, readTakes, stockGateKeys } from './stock-gate';

/**
 * Building the stock gate (products ON_SALE only) from PostgreSQL — `available = stock − reserved − Σ takes in flight` — at
 * start-up, on demand (POST /admin/inventory/stock-gate/rebuild), for products a placement finds
 * missing (a new product, a flushed Redis), and the periodic reconciliation that compares and repairs.
 */

const CHUNK = 1000;

// ARGV[1]: 'all' replaces counters, 'missing' only fills absent ones; then product, available pairs.
const installScript = luaScript(`
${HELD_BY_TAKES_LUA}
local installed = 0
for i = 2, #ARGV, 2 do
  local value = tonumber(ARGV[i + 1]) - (held[ARGV[i]] or 0)
  if ARGV[1] == 'all' then
    redis.call('HSET', KEYS[1], ARGV[i], value); installed = installed + 1
  else
    installed = installed + redis.call('HSETNX', KEYS[1], ARGV[i], value)
  end
end
return installed
`);

// Products whose counter differs from PostgreSQL while none of their units is in flight:
// product, counter pairs (ARGV: product, available pairs).
const compareScript = luaScript(`
${HELD_BY_TAKES_LUA}
local drift = {}
for i = 1, #ARGV, 2 do
  local count = redis.call('HGET', KEYS[1], ARGV[i])
  if count and not held[ARGV[i]] and tonumber(count) ~= tonumber(ARGV[i + 1]) then
    drift[#drift + 1] = ARGV[i]; drift[#drift + 1] = count
  end
end
return drift
`);

// Sets a counter only if it still reads what the comparison saw and nothing is in flight for it
// (ARGV: product, seen, truth triples); returns the products repaired.
const repairScript = luaScript(`
${HELD_BY_TAKES_LUA}
local repaired = {}
for i = 1, #ARGV, 3 do
  if not held[ARGV[i]] and redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]); repaired[#repaired + 1] = ARGV[i]
  end
end
return repaired
`);

const FIRST = '00000000-0000-0000-0000-000000000000';

type AvailableRow = Awaited<ReturnType<typeof readAvailable>>[number];

async function readAvailable(ctx: AppContext, productIds?: readonly string[], after = FIRST) {
  const onSale = db(ctx.orm.em.fork())
    .selectFrom('inventory as i')
    .innerJoin('products as p', (join) =>
      join.onRef('p.id', '=', 'i.product_id').on('p.status', '=', 'ON_SALE'),
    )
    .select(['i.product_id', sql<number>`i.stock - i.reserved`.as('available'), 'i.version'])
    .orderBy('i.product_id');
  return productIds
    ? onSale.where('i.product_id', '=', sql<string>`any(${productIds}::uuid[])`).execute()
    : onSale.where('i.product_id', '>', after).limit(CHUNK).execute();
}

/** Every product (or the ones named) rebuilt from PostgreSQL; `onlyMissing` keeps existing counters. */
export async function rebuildStockGate(
  ctx: AppContext,
  options: { productIds?: readonly string[]; onlyMissing?: boolean } = {},
): Promise<number> {
  if (!ctx.config.stockGate) return 0;
  const mode = options.onlyMissing ? 'missing' : 'all';
  let installed = 0;
  for (let after = FIRST; ; ) {
    const rows = await readAvailable(ctx, options.productIds, after);
    if (rows.length > 0) installed += await installCounters(ctx, mode, rows);
    if (options.productIds || rows.length < CHUNK) break;
    after = rows[rows.length - 1]!.product_id;
  }
  soldOutMemo(ctx).forget(options.productIds);
  return installed;
}

/** PostgreSQL's figures (less the takes in flight) as counters: all of them, or only those Redis lacks. */
async function installCounters(
  ctx: AppContext,
  mode: 'all' | 'missing',
  rows: AvailableRow[],
): Promise<number> {
  const keys = stockGateKeys(ctx);
  return Number(
    await installScript(
      ctx.redis,
      [keys.available, keys.takes],
      [mode, ...rows.flatMap((r) => [r.product_id, r.available])],
    ),
  );
}

const missingInFlight = new Map<string, Promise<number>>();

/** Counters a placement found missing, built once per process however many requests found them. */
export function ensureStockGate(ctx: AppContext, productIds: readonly string[]): Promise<number> {
  const key = `${ctx.key('{stock-gate}')}:${[...productIds].sort().join(',')}`;
  let building = missingInFlight.get(key);
  if (!building) {
    building = rebuildStockGate(ctx, { productIds, onlyMissing: true }).finally(() =>
      missingInFlight.delete(key),
    );
    missingInFlight.set(key, building);
  }
  return building;
}

/**
 * At start-up, after the fail-fast Redis connection is ready: every counter Redis lacks (a new or
 * restarted Redis) is built from PostgreSQL. Live counters are kept — another process may be selling
 * through them — and left to the reconciliation.
 */
export async function rebuildStockGateAtStart(ctx: AppContext): Promise<void> {
  if (!ctx.config.stockGate) return;
  await waitUntilReady(ctx.redis);
  const products = await rebuildStockGate(ctx, { onlyMissing: true });
  ctx.log.info({ products }, 'stock gate: counters built from PostgreSQL');
}

export interface StockGateDrift {
  productId: string;
  gate: number;
  postgres: number;
}

type DriftObserver = (drift: StockGateDrift[]) => void;
let driftObserver: DriftObserver = () => undefined;
/** The metrics registry counts repaired drift (src/observability/metrics.ts wires it). */
export function setStockGateDriftObserver(observer: DriftObserver): void {
  driftObserver = observer;
}

/** A take without a receipt this long after it went stale is given back. */
const ABANDONED_TAKE_MS = 3600_000;

/** How long a drifting counter must stay put before it is repaired. */
const SETTLE_GRACE_MS = 100;

/** A take older than this without a live command behind it is settled from its receipt. */
const STALE_TAKE_MS = 30_000;

/**
 * Compares the gate with PostgreSQL and repairs it. First, takes whose command has ended (a receipt
 * exists) but were never settled (a crash between commit and settle) are settled from the receipt.
 * A product on sale whose counter Redis lost is built again (`rebuilt`). Then a product whose counter
 * differs from `stock − reserved` while none of its units is in flight and whose row did not change
 * during the check is set to PostgreSQL's figure: a log line and the `shop_stock_gate_drift_*` metrics
 * report it.
 */
export async function reconcileStockGate(
  ctx: AppContext,
  log: Logger,
  now = Date.now(),
): Promise<{ settled: number; repaired: StockGateDrift[]; rebuilt: number }> {
  if (!ctx.config.stockGate) return { settled: 0, repaired: [], rebuilt: 0 };
  const settled = await settleEndedTakes(ctx, now - STALE_TAKE_MS);
  const keys = stockGateKeys(ctx);
  const repaired: StockGateDrift[] = [];
  let rebuilt = 0;
  for (let after = FIRST; ; ) {
    const rows = await readAvailable(ctx, undefined, after);
    if (rows.length === 0) break;
    // Counters Redis lost (a flush, a restart) come back here too, not only when an order asks for
    // one: a product the sold-out memo keeps answering for may see no order that would rebuild it.
    rebuilt += await installCounters(ctx, 'missing', rows);
    const seen = (await compareScript(
      ctx.redis,
      [keys.available, keys.takes],
      rows.flatMap((r) => [r.product_id, r.available]),
    )) as string[];
    if (seen.length > 0) repaired.push(...(await repairUnchanged(ctx, rows, seen)));
    if (rows.length < CHUNK) break;
    after = rows[rows.length - 1]!.product_id;
  }
  if (repaired.length > 0) {
    soldOutMemo(ctx).forget(repaired.map((r) => r.productId));
    log.warn({ drift: repaired }, 'stock gate drift: repaired from PostgreSQL');
    driftObserver(repaired);
  }
  if (rebuilt > 0) {
    soldOutMemo(ctx).forget();
    log.warn({ products: rebuilt }, 'stock gate: counters missing from Redis rebuilt from PostgreSQL');
  }
  return { settled, repaired, rebuilt };
}

async function repairUnchanged(ctx: AppContext, before: AvailableRow[], seen: string[]) {
  const counters = new Map<string, string>();
  for (let i = 0; i < seen.length; i += 2) counters.set(seen[i]!, seen[i + 1]!);
  const earlier = new Map(before.map((r) => [r.product_id, r]));
  // A step that committed just before the first read settles its counter right after: give it time,
  // then repair only a counter that still reads the same (compare-and-set) for a row that did not move.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_GRACE_MS));
  const now = await readAvailable(ctx, [...counters.keys()]);
  const steady = now.filter((r) => earlier.get(r.product_id)?.version === r.version);
  if (steady.length === 0) return [];
  const keys = stockGateKeys(ctx);
  const fixed = (await repairScript(
    ctx.redis,
    [keys.available, keys.takes],
    steady.flatMap((r) => [r.product_id, counters.get(r.product_id)!, r.available]),
  )) as string[];
  const truth = new Map(steady.map((r) => [r.product_id, r.available]));
  return fixed.map((productId) => ({
    productId,
    gate: Number(counters.get(productId)),
    postgres: truth.get(productId)!,
  }));
}

/** Takes older than `before` whose command has a receipt: DONE settles them, FAILED gives back. */
async function settleEndedTakes(ctx: AppContext, before: number): Promise<number> {
  const stale = (await readTakes(ctx)).filter((t) => t.at < before);
  if (stale.length === 0) return 0;
  const receipts = await db(ctx.orm.em.fork())
    .selectFrom('commands')
    .select(['id', 'status'])
    .where('id', '=', sql<string>`any(${stale.map((t) => t.commandId)}::text[])`)
    .execute();
  const keys = stockGateKeys(ctx);
  for (const receipt of receipts) {
    if (receipt.status === 'DONE') await ctx.redis.hdel(keys.takes, receipt.id);
    else await giveBackTake(ctx, receipt.id);
  }
  // A take this old without a receipt belongs to a command that never reached its mailbox (its
  // give-back was lost too). Giving it back is safe even if it still commits one day: a commit
  // without a take is debited from the gate.
  const answered = new Set(receipts.map((r) => r.id));
  const abandoned = stale.filter((t) => t.at < before - ABANDONED_TAKE_MS && !answered.has(t.commandId));
  for (const take of abandoned) await giveBackTake(ctx, take.commandId);
  return receipts.length + abandoned.length;
}
