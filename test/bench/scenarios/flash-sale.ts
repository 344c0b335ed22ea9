import { capturedReplayPlan, replayTransactions, singleRowReservationPlan } from '../raw/sql-replay';
import type { BenchContext, ResultRow, Scenario } from '../scenario';
import { runClosedLoop } from '../support/load';
import { outcomeSummary, round } from '../support/rows';
import { pick, placeOrder } from '../support/shop-requests';

/**
 * Units on sale: at most `maxStock`, and no more than half of what the buyers can order in the
 * measured window at the rate the warm-up showed — so the sale sells out mid-window on any machine
 * and both the selling and the refusing sides are measured.
 */
const MIN_FLASH_STOCK = 100;
/** The raw ceilings' hot rows never run out, so they measure contended reservations that succeed. */
const ENDLESS_STOCK = 1_000_000_000;
/**
 * pg connections of the raw replays at most. One hot row serialises its transactions on the row lock:
 * beyond a few clients they only queue, and the rate falls (pgbench on one hot row, 8 and 32 clients
 * alternating: 2,185 and 1,456 tx/s @8, 1,429 and 1,147 @32), so a crowd of buyers is compared with
 * the ceiling at 8 clients — and 100 connections would exceed max_connections beside the shop's own.
 */
const RAW_MAX_CLIENTS = 8;

/**
 * Every buyer orders one unit of ONE product with limited stock (SPEC §9: ≥ 50 % of the raw
 * single-row ceiling, zero oversell). The figure compared is orders/s while stock lasted (201s until
 * the last unit went); after that every request is a 409, reported separately. Afterwards the
 * database is checked: reserved ≤ stock and reserved = units of the orders actually written.
 * `flash-sale` runs 8 buyers; `flash-sale-100` a crowd of 100 (a flash sale's usual shape: the batches
 * of winners grow with the buyers waiting, while the raw single-row ceiling does not).
 */
export const flashSale = flashSaleScenario({ name: 'flash-sale', defaultConcurrency: 8, maxStock: 2000 });
export const flashSaleAt100 = flashSaleScenario({
  name: 'flash-sale-100',
  defaultConcurrency: 100,
  maxStock: 20_000,
});

function flashSaleScenario(shape: { name: string; defaultConcurrency: number; maxStock: number }): Scenario {
  const { name, defaultConcurrency, maxStock } = shape;
  return {
    name,
    summary: `N buyers racing for one product with ≤ ${maxStock} units vs the single-row conditional update via pg`,
    defaultConcurrency,
    run: async (bench, concurrency) => {
      const buyers = await bench.seed.buyers(concurrency);
      const warmProducts = await bench.seed.products(100, { stock: ENDLESS_STOCK });
      const [rawHot, rawHotFull] = await bench.seed.products(2, { stock: ENDLESS_STOCK });
      const http = bench.http(concurrency);

      // Warm-up on other products: the hot product's stock is only for the measured window.
      const warmup = await runClosedLoop((vu) => placeOrder(http, buyers[vu]!.token, pick(warmProducts)), {
        concurrency,
        durationMs: Math.max(bench.warmupMs, 1000),
        warmupMs: 0,
      });
      const demand = ((warmup.outcomes['201'] ?? 0) / warmup.elapsedS) * (bench.durationMs / 1000);
      const stock = Math.round(Math.min(maxStock, Math.max(MIN_FLASH_STOCK, demand / 2)));
      bench.note(
        `the hot product gets ${stock} units (warm-up placed ${Math.round(demand / (bench.durationMs / 1000))} orders/s)`,
      );
      const [hot] = await bench.seed.products(1, { stock });
      let lastSaleMs = 0;
      const finished: { outcome: string; start: number; end: number }[] = [];
      const shop = await bench.phase(
        `shop flash sale @${concurrency}`,
        { concurrency, warmupMs: 0 },
        (options) =>
          runClosedLoop((vu) => placeOrder(http, buyers[vu]!.token, hot!), {
            ...options,
            onResult: (outcome, start, end) => {
              if (outcome === '201' && end > lastSaleMs) lastSaleMs = end;
              finished.push({ outcome, start, end });
            },
          }),
      );
      const sellOut = await verifyNoOversell(bench, hot!, shop.load.outcomes);
      // The sold-out answer alone, in a window of its own (no winner's work trailing in it): its CPU,
      // Redis commands and transactions per 409 in the second table.
      const refusals =
        sellOut.available === 0
          ? await bench.phase(`shop sold-out POST /orders @${concurrency}`, { concurrency }, (options) =>
              runClosedLoop((vu) => placeOrder(http, buyers[vu]!.token, hot!), options),
            )
          : undefined;
      // Judged on every answer of both windows: a 201 in the second would be a unit sold twice.
      const checks = refusals
        ? await verifyNoOversell(bench, hot!, addOutcomes(shop.load.outcomes, refusals.load.outcomes))
        : sellOut;

      const rawClients = Math.min(concurrency, RAW_MAX_CLIENTS);
      const singleRow = await bench.phase(
        `raw single-row reservation via pg @${rawClients}`,
        { concurrency: rawClients },
        (options) => replayTransactions(bench.database.url, singleRowReservationPlan(rawHot!), options),
      );
      const capture = await bench.placementCapture();
      const hotPlan = capturedReplayPlan(
        capture,
        buyers.map((b) => b.id),
        [rawHotFull!],
      );
      const fullTx = await bench.phase(
        `raw placement tx on the hot row via pg @${rawClients}`,
        { concurrency: rawClients },
        (options) => replayTransactions(bench.database.url, hotPlan, options),
      );

      const sold = shop.load.outcomes['201'] ?? 0;
      const soldOut = sold > 0 && checks.available === 0;
      const saleSeconds = Math.max((soldOut ? lastSaleMs : shop.load.elapsedS * 1000) / 1000, 0.001);
      const orders = sold / saleSeconds;
      const singleRowTx = singleRow.load.throughput;
      const fullTxRate = fullTx.load.throughput;
      // After the sell-out: every request that started after the last 201, until the window's end.
      const afterSellOut = finished.filter((r) => r.start >= lastSaleMs);
      const windowEndMs = finished.reduce((max, r) => Math.max(max, r.end), 0);
      const afterSeconds = Math.max((windowEndMs - lastSaleMs) / 1000, 0.001);
      const refusedAfter = afterSellOut.filter((r) => r.outcome === '409').length;
      const rows: ResultRow[] = [
        {
          metric: `orders/s while stock lasted @${concurrency}`,
          value: round(orders, 0),
          raw: { value: round(singleRowTx, 0), unit: 'tx/s', what: 'single-row conditional update tx' },
          ratio: orders / singleRowTx,
          target: { text: '≥ 100 % of raw single-row', met: orders / singleRowTx >= 1 },
        },
        {
          metric: 'orders/s vs full placement tx on hot row',
          value: round(orders, 0),
          raw: { value: round(fullTxRate, 0), unit: 'tx/s', what: 'captured placement tx, one hot row' },
          ratio: orders / fullTxRate,
        },
        {
          metric: soldOut ? `sold out (${checks.stock} units) after` : `stock left (of ${checks.stock})`,
          value: soldOut ? round(saleSeconds, 2) : checks.available,
          unit: soldOut ? 's' : 'units',
        },
        {
          metric: `requests/s after the sell-out (${round(afterSeconds, 1)} s, ${afterSellOut.length - refusedAfter} not 409)`,
          value: soldOut ? round(refusedAfter / afterSeconds, 0) : 'not sold out',
          unit: '409/s',
          target: { text: '≥ 10,000 req/s of 409s', met: soldOut && refusedAfter / afterSeconds >= 10_000 },
        },
        {
          metric: refusals
            ? `409s/s of the sold-out product, own window (${outcomeSummary(refusals.load)})`
            : '409s/s of the sold-out product, own window',
          value: refusals ? round(refusals.load.throughput, 0) : 'not sold out',
          unit: '409/s',
        },
        { metric: 'requests/s (201 + 409)', value: round(shop.load.throughput, 0) },
        { metric: 'responses', value: outcomeSummary(shop.load) },
        {
          metric: 'oversell',
          value: checks.oversold ? `OVERSOLD by ${checks.orderedUnits - checks.stock}` : 'none',
          target: { text: 'zero oversell, reserved = ordered', met: !checks.oversold && checks.consistent },
        },
      ];
      return {
        rows,
        phases: refusals ? [shop, refusals, singleRow, fullTx] : [shop, singleRow, fullTx],
        checks,
      };
    },
  };
}

function addOutcomes(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [outcome, n] of Object.entries(b)) sum[outcome] = (sum[outcome] ?? 0) + n;
  return sum;
}

async function verifyNoOversell(bench: BenchContext, productId: string, outcomes: Record<string, number>) {
  const answered201 = outcomes['201'] ?? 0;
  const answered202 = outcomes['202'] ?? 0;
  let state = await inventoryState(bench, productId);
  // A 202 is a placement still in the mailbox: let those land before judging.
  for (let waited = 0; answered202 > 0 && waited < 15_000; waited += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const next = await inventoryState(bench, productId);
    if (next.reserved === state.reserved) break;
    state = next;
  }
  return {
    ...state,
    answered201,
    answered202,
    oversold: state.reserved > state.stock || state.orderedUnits > state.stock,
    /** Every reserved unit belongs to a PENDING order, and each 201 (one unit each) to one of them. */
    consistent:
      state.reserved === state.orderedUnits &&
      (answered202 === 0 ? answered201 === state.reserved : answered201 <= state.reserved),
  };
}

async function inventoryState(bench: BenchContext, productId: string) {
  const { rows } = await bench.database.pool.query<{
    stock: number;
    reserved: number;
    ordered_units: number;
    orders: number;
  }>(
    `select i.stock, i.reserved,
            coalesce((select sum(oi.quantity) from order_items oi join orders o on o.id = oi.order_id
                      where oi.product_id = i.product_id and o.status = 'PENDING'), 0)::int as ordered_units,
            (select count(*) from order_items oi where oi.product_id = i.product_id)::int as orders
     from inventory i where i.product_id = $1`,
    [productId],
  );
  const row = rows[0]!;
  return {
    stock: row.stock,
    reserved: row.reserved,
    available: row.stock - row.reserved,
    orderedUnits: row.ordered_units,
    ordersWritten: row.orders,
  };
}
