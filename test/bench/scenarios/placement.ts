import { prepareLeanPlacement } from '../raw/lean-placement';
import { capturedReplayPlan, replayTransactions } from '../raw/sql-replay';
import type { BenchContext, ResultRow, Scenario, ScenarioReport } from '../scenario';
import { runClosedLoop } from '../support/load';
import { latencyRows, outcomeSummary, rateOf, round } from '../support/rows';
import { pick, placeOrder } from '../support/shop-requests';

/** Enough products that two concurrent orders almost never reserve the same inventory row. */
const PRODUCTS = 1000;
const AMPLE_STOCK = 1_000_000;

/**
 * Scenario 1 (issue 3): N buyers, each a distinct user, placing single-line orders for random
 * products with ample stock through POST /api/v1/orders (HTTP → order mailbox → worker transaction →
 * reply), next to the worker's own placement transaction replayed straight through `pg` at the same
 * concurrency (SPEC §9: ≥ 1,000 orders/s and ≥ 25 % of that raw ceiling).
 */
export const placement: Scenario = {
  name: 'placement',
  summary: 'N buyers placing single-line orders (many products) vs the captured placement SQL via pg',
  defaultConcurrency: 8,
  run: async (bench, concurrency) => {
    const { buyers, products } = await seedOrders(bench, concurrency);
    const shop = await placeOrders(bench, `shop POST /orders @${concurrency}`, concurrency, buyers, products);

    const capture = await bench.placementCapture();
    const plan = capturedReplayPlan(
      capture,
      buyers.map((b) => b.id),
      products,
    );
    const raw = await bench.phase(`raw placement tx via pg @${concurrency}`, { concurrency }, (options) =>
      replayTransactions(bench.database.url, plan, options),
    );

    const lean = await prepareLeanPlacement(bench.database.url, PRODUCTS);
    const leanPhase = await bench
      .phase(`lean reference placement via pg @${concurrency}`, { concurrency }, lean.run)
      .finally(lean.drop);

    const orders = rateOf(shop.load, '201');
    const rawTx = rateOf(raw.load, 'ok');
    const leanTx = rateOf(leanPhase.load, 'ok');
    const ratio = orders / rawTx;
    const leanRatio = orders / leanTx;
    const rows: ResultRow[] = [
      {
        metric: `orders/s @${concurrency}`,
        value: round(orders, 0),
        raw: { value: round(rawTx, 0), unit: 'tx/s', what: `placement tx via pg @${concurrency}` },
        ratio,
        target: { text: '≥ 1,000/s and ≥ 25 % of raw', met: orders >= 1000 && ratio >= 0.25 },
      },
      {
        metric: `orders/s @${concurrency} vs lean reference`,
        value: round(orders, 0),
        raw: {
          value: round(leanTx, 0),
          unit: 'tx/s',
          what: `lean reference placement via pg @${concurrency}`,
        },
        ratio: leanRatio,
        target: { text: '≥ 1,000/s and ≥ 25 % of lean', met: orders >= 1000 && leanRatio >= 0.25 },
      },
      ...latencyRows(shop.load, { raw: raw.load, rawWhat: 'tx latency', outcome: '201' }),
      { metric: 'responses', value: outcomeSummary(shop.load) },
    ];
    return {
      rows,
      phases: [shop, raw, leanPhase],
      checks: { statementsPerPlacement: capture.statements.length },
    } satisfies ScenarioReport;
  },
};

/** SPEC §9: placement p95 < 100 ms with 100 concurrent clients. */
export const placementAt100: Scenario = {
  name: 'placement-100',
  summary: 'placement latency with 100 concurrent buyers (SPEC: p95 < 100 ms)',
  defaultConcurrency: 100,
  run: async (bench, concurrency) => {
    const { buyers, products } = await seedOrders(bench, concurrency);
    const shop = await placeOrders(bench, `shop POST /orders @${concurrency}`, concurrency, buyers, products);
    const rows: ResultRow[] = [
      { metric: `orders/s @${concurrency}`, value: round(rateOf(shop.load, '201'), 0) },
      ...latencyRows(shop.load, { p95Target: 100, outcome: '201' }),
      { metric: 'responses', value: outcomeSummary(shop.load) },
    ];
    return { rows, phases: [shop] };
  },
};

async function seedOrders(bench: BenchContext, concurrency: number) {
  bench.note(`seeding ${PRODUCTS} products and ${concurrency} buyers`);
  const buyers = await bench.seed.buyers(concurrency);
  const products = await bench.seed.products(PRODUCTS, { stock: AMPLE_STOCK });
  return { buyers, products };
}

function placeOrders(
  bench: BenchContext,
  label: string,
  concurrency: number,
  buyers: { token: string }[],
  products: string[],
) {
  const http = bench.http(concurrency);
  return bench.phase(label, { concurrency }, (options) =>
    runClosedLoop((vu) => placeOrder(http, buyers[vu]!.token, pick(products)), options),
  );
}
