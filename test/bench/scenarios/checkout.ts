import { captureCheckout } from '../raw/checkout-capture';
import { capturedReplayPlan, replayTransactions, runSetup } from '../raw/sql-replay';
import type { BenchContext, ResultRow, Scenario } from '../scenario';
import { type CheckoutStages, type CheckoutWait, POLL_EVERY_MS, runCheckoutPhase } from '../support/checkout';
import { latencyRows, outcomeSummary, rateOf, round } from '../support/rows';

/** Enough products that two concurrent checkouts almost never touch the same inventory row. */
const PRODUCTS = 1000;
const AMPLE_STOCK = 1_000_000;

/** The mock gateway answers at once: the figure is the shop's own work, not a card network's. */
export const CHECKOUT_SERVER_ENV = { PAYMENT_GATEWAY_LATENCY_MS: '0' };

/**
 * Issue 4's end-to-end checkout: N buyers each place a one-line order, pay it by card (Idempotency-Key,
 * `tok_ok`) and poll the order until it is PAID — HTTP → order actor → outbox relay → payment actor →
 * mock gateway → outbox relay → order actor. Next to it, the SQL of the same checkout (placement, PAY,
 * the payment actor's capture statements, PAYMENT_SUCCEEDED), captured from the actors' own code and
 * replayed through `pg` at the same concurrency. SPEC §9 sets no checkout target.
 */
export const checkout: Scenario = checkoutScenario(
  'checkout',
  'N buyers: place + pay (CARD, gateway latency 0) + poll until PAID vs the captured checkout SQL via pg',
  'poll',
);

/**
 * The same checkout, the buyer waiting on the order's live status stream (GET /orders/{id}/events,
 * opened before paying) instead of polling: what a checkout costs without the polls' GETs.
 */
export const checkoutStream: Scenario = checkoutScenario(
  'checkout-stream',
  'checkout, waiting for PAID on the order-status stream (SSE) instead of polling',
  'stream',
);

function checkoutScenario(name: string, summary: string, wait: CheckoutWait): Scenario {
  return {
    name,
    summary,
    defaultConcurrency: 8,
    serverEnv: CHECKOUT_SERVER_ENV,
    run: async (bench, concurrency) => {
      bench.note(`seeding ${PRODUCTS} products and ${concurrency} buyers`);
      const buyers = await bench.seed.buyers(concurrency);
      const products = await bench.seed.products(PRODUCTS, { stock: AMPLE_STOCK });
      const since = new Date();
      const { phase: shop, stages } = await runCheckoutPhase(
        bench,
        `shop checkout${wait === 'stream' ? ' (status stream)' : ''} @${concurrency}`,
        concurrency,
        buyers,
        products,
        wait,
      );
      const money = await checkMoney(
        bench,
        buyers.map((b) => b.id),
        since,
        shop.load.outcomes.PAID ?? 0,
      );

      const capture = await captureCheckout(bench.shop.env, bench.database.name);
      bench.note(
        `captured the checkout: ${capture.steps.map((s) => `${s.name} ${s.statements} statements`).join(', ')}`,
      );
      await runSetup(bench.database.url, capture);
      const plan = capturedReplayPlan(
        capture,
        buyers.map((b) => b.id),
        products,
      );
      const raw = await bench.phase(`raw checkout SQL via pg @${concurrency}`, { concurrency }, (options) =>
        replayTransactions(bench.database.url, plan, options),
      );

      const checkouts = rateOf(shop.load, 'PAID');
      const rawRate = rateOf(raw.load, 'ok');
      const transactions = capture.steps.reduce((n, s) => n + s.transactions, 0);
      const rows: ResultRow[] = [
        {
          metric: `checkouts/s @${concurrency}`,
          value: round(checkouts, 0),
          raw: {
            value: round(rawRate, 0),
            unit: 'checkouts/s',
            what: `checkout SQL via pg: ${capture.statements.length} statements, ${transactions} tx`,
          },
          ratio: checkouts / rawRate,
        },
        ...latencyRows(shop.load, {
          raw: raw.load,
          rawWhat: 'SQL sequence',
          label: 'place→PAID',
          outcome: 'PAID',
        }),
        ...stageRows(stages, wait),
        { metric: 'responses', value: outcomeSummary(shop.load) },
        {
          metric: 'money',
          value: money.consistent
            ? `${money.paidOrders} PAID = ${money.completedPayments} COMPLETED = ${money.captures} captures`
            : `MISMATCH ${JSON.stringify(money)}`,
          target: { text: 'one capture per PAID order', met: money.consistent },
        },
      ];
      return {
        rows,
        phases: [shop, raw],
        checks: {
          money,
          stages: stages.summary(),
          wait,
          pollEveryMs: POLL_EVERY_MS,
          capturedSteps: capture.steps,
        },
      };
    },
  };
}

/** p50 of each leg of a checkout, and how many GET /orders/{id} one took (none on the status stream). */
export function stageRows(stages: CheckoutStages, wait: CheckoutWait = 'poll'): ResultRow[] {
  const s = stages.summary();
  return [
    {
      metric: 'p50 place / pay / pay→PAID',
      value: `${round(s.place.p50)} / ${round(s.pay.p50)} / ${round(s.settle.p50)}`,
      unit: 'ms',
    },
    {
      metric: 'p95 place / pay / pay→PAID',
      value: `${round(s.place.p95)} / ${round(s.pay.p95)} / ${round(s.settle.p95)}`,
      unit: 'ms',
    },
    wait === 'stream'
      ? { metric: 'waited on', value: 'one order-status stream per checkout (GET /orders/{id}/events)' }
      : {
          metric: `GET /orders polls per checkout (every ${POLL_EVERY_MS} ms)`,
          value: round(s.pollsPerCheckout, 1),
        },
  ];
}

/**
 * After the load: the buyers' orders placed since `since` (replayed rows are dated 2100 and left
 * out) — every PAID order has one COMPLETED payment and exactly one capture in the gateway's ledger,
 * and every checkout answered PAID is among them.
 */
export async function checkMoney(bench: BenchContext, buyerIds: string[], since: Date, answeredPaid: number) {
  const { rows } = await bench.database.pool.query<{
    orders: number;
    paid_orders: number;
    completed_payments: number;
    captures: number;
    double_captures: number;
  }>(
    `with o as (select id, status from orders where user_id = any($1::uuid[]) and created_at >= $2 and created_at <= now())
     select (select count(*) from o)::int as orders,
            (select count(*) from o where status = 'PAID')::int as paid_orders,
            (select count(*) from payments p join o on o.id = p.order_id where p.status = 'COMPLETED')::int
              as completed_payments,
            (select count(*) from gateway_charges g join o on o.id = g.order_id where g.kind = 'CAPTURE')::int as captures,
            (select count(*) from (select g.payment_id from gateway_charges g join o on o.id = g.order_id
                                   where g.kind = 'CAPTURE' group by g.payment_id having count(*) > 1) d)::int
              as double_captures`,
    [buyerIds, since],
  );
  const r = rows[0]!;
  const consistent =
    r.paid_orders === r.completed_payments &&
    r.completed_payments === r.captures &&
    r.double_captures === 0 &&
    answeredPaid <= r.paid_orders;
  return {
    orders: r.orders,
    paidOrders: r.paid_orders,
    completedPayments: r.completed_payments,
    captures: r.captures,
    doubleCaptures: r.double_captures,
    answeredPaid,
    consistent,
  };
}
