import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext, Phase, ResultRow, Scenario } from '../scenario';
import { CheckoutStages, checkout, POLL_EVERY_MS, runCheckoutPhase } from '../support/checkout';
import type { HttpClient } from '../support/http-client';
import { outcomeSummary, rateOf, round } from '../support/rows';
import { pick } from '../support/shop-requests';
import { WebhookReceiver } from '../support/webhook-receiver';
import { CHECKOUT_SERVER_ENV } from './checkout';

const PRODUCTS = 1000;
const AMPLE_STOCK = 1_000_000;
/** The idle floor: this many checkouts one at a time, each after the previous one's events were applied. */
const IDLE_CHECKOUTS = 20;
const IDLE_PAUSE_MS = 200;
/** How long the consumers get to apply what the load committed before the lag is read. */
const SETTLE_DEADLINE_MS = 60_000;

type Percentiles = { p50: number; p99: number };

interface ConsumerLag {
  consumer: string;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Issue 6: how long a committed domain event takes to be applied by each consumer (notifications,
 * sales statistics, webhooks), under the checkout load. The shop measures it itself from the database
 * (GET /admin/outbox/lag: the outbox row's created_at — the committing step's clock — to the
 * consumer's processed_messages row), so it covers every process; the bench reads it for the events
 * committed in the measured window, once the consumers have caught up. A webhook endpoint in the
 * bench process is registered for every event type first, so the webhooks consumer has work (with
 * none registered it records nothing), and the endpoint notes when each delivery arrives: commit →
 * delivered to the external system, one hop further. There is no raw ceiling of a
 * relay; the raw column holds the shop's own floor instead: the same lag for the events of a few
 * checkouts made one at a time with the shop otherwise idle (wake-up, claim, BullMQ hop, consumer
 * transaction, nothing queued in front).
 */
export const outboxLag: Scenario = {
  name: 'outbox-lag',
  summary: 'commit → consumer applied, p50/p99 per consumer, under the checkout load and with the shop idle',
  defaultConcurrency: 8,
  serverEnv: CHECKOUT_SERVER_ENV,
  run: async (bench, concurrency) => {
    bench.note(`seeding ${PRODUCTS} products and ${concurrency} buyers`);
    const buyers = await bench.seed.buyers(concurrency);
    const products = await bench.seed.products(PRODUCTS, { stock: AMPLE_STOCK });
    const admin = await bench.seed.adminUser();
    const http = bench.http(1);
    const receiver = await new WebhookReceiver().start();
    const webhookId = await registerWebhook(http, admin.token, receiver.url);
    try {
      const { phase, stages } = await runCheckoutPhase(
        bench,
        `shop checkout @${concurrency} + webhook (outbox lag)`,
        concurrency,
        buyers,
        products,
      );
      const windowStart = performance.timeOrigin + stages.measureFrom;
      const underLoad = await settledLag(bench, http, admin.token, receiver, windowStart);

      bench.note(`idle floor: ${IDLE_CHECKOUTS} checkouts one at a time`);
      const idleStart = Date.now();
      // The endpoint counts whole seconds back from now: a second's pause keeps the load's events out.
      await sleep(1000);
      const idleStages = new CheckoutStages();
      const idleOutcomes: Record<string, number> = {};
      for (let i = 0; i < IDLE_CHECKOUTS; i++) {
        const outcome = await checkout(http, buyers[0]!.token, pick(products), idleStages);
        idleOutcomes[outcome] = (idleOutcomes[outcome] ?? 0) + 1;
        await sleep(IDLE_PAUSE_MS);
      }
      const idle = await settledLag(bench, http, admin.token, receiver, idleStart);
      const rows = lagRows(concurrency, phase, stages, underLoad, idle);
      return {
        rows,
        phases: [phase],
        checks: { underLoad, idle, idleOutcomes, idleStages: idleStages.summary() },
      };
    } finally {
      await http
        .request('DELETE', `/api/v1/admin/webhooks/${webhookId}`, {
          headers: { authorization: `Bearer ${admin.token}` },
        })
        .catch(() => undefined);
      await receiver.close();
    }
  },
};

type Settled = Awaited<ReturnType<typeof settledLag>>;

function lagRows(
  concurrency: number,
  phase: Phase,
  stages: CheckoutStages,
  underLoad: Settled,
  idle: Settled,
): ResultRow[] {
  const rows: ResultRow[] = [
    { metric: `checkouts/s @${concurrency} (the load)`, value: round(rateOf(phase.load, 'PAID'), 0) },
    { metric: 'responses', value: outcomeSummary(phase.load) },
    // The load polls until PAID: the slower a checkout under the webhook's work, the more polls it makes.
    {
      metric: `GET /orders polls per checkout (every ${POLL_EVERY_MS} ms)`,
      value: round(stages.summary().pollsPerCheckout, 1),
    },
  ];
  const percentiles = (metric: string, load: Percentiles, floor: Percentiles | undefined, what: string) => {
    for (const p of ['p50', 'p99'] as const) {
      rows.push({
        metric: `${metric} ${p}`,
        value: round(load[p]),
        unit: 'ms',
        ...(floor ? { raw: { value: round(floor[p]), unit: 'ms', what } } : {}),
      });
    }
  };
  for (const lag of underLoad.lag) {
    const floor = idle.lag.find((l) => l.consumer === lag.consumer);
    const of = (l: ConsumerLag) => ({ p50: l.p50Ms, p99: l.p99Ms });
    percentiles(
      `${lag.consumer} lag`,
      of(lag),
      floor && of(floor),
      `shop idle, ${floor?.events ?? 0} events`,
    );
  }
  percentiles(
    'webhook delivered (at the endpoint)',
    underLoad.delivered,
    idle.delivered.count > 0 ? idle.delivered : undefined,
    `shop idle, ${idle.delivered.count} deliveries`,
  );
  rows.push({
    metric: 'events applied in the window',
    value: [
      ...underLoad.lag.map((l) => `${l.consumer} ${l.events.toLocaleString('en-US')}`),
      `webhook deliveries ${underLoad.delivered.count.toLocaleString('en-US')}`,
    ].join(', '),
  });
  if (!underLoad.settled || !idle.settled) {
    rows.push({
      metric: 'caught up',
      value: 'NO: consumers still applying at the deadline; lag understated',
    });
  }
  return rows;
}

async function registerWebhook(http: HttpClient, adminToken: string, url: string): Promise<string> {
  const res = await http.request('POST', '/api/v1/admin/webhooks', {
    headers: { authorization: `Bearer ${adminToken}` },
    body: { url, events: ['*'], secret: randomBytes(24).toString('hex') },
    readBody: true,
  });
  if (res.status !== 201) throw new Error(`POST /admin/webhooks answered ${res.status}: ${res.body}`);
  return (JSON.parse(res.body!) as { data: { id: string } }).data.id;
}

/**
 * The lag of the events committed since `since` (ms since the epoch), read once the relay has
 * nothing due and the consumers stopped applying (their processed_messages rows and the webhook
 * deliveries stopped growing between two looks half a second apart), or at the deadline (`settled` false).
 */
async function settledLag(
  bench: BenchContext,
  http: HttpClient,
  adminToken: string,
  receiver: WebhookReceiver,
  since: number,
) {
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  let previous = -1;
  let settled = false;
  for (;;) {
    const { due, applied: recorded } = await consumerProgress(bench);
    const applied = recorded + receiver.received;
    if (due === 0 && applied === previous) {
      settled = true;
      break;
    }
    if (Date.now() > deadline) break;
    previous = applied;
    await sleep(500);
  }
  const sinceSeconds = Math.max(1, Math.floor((Date.now() - since) / 1000));
  // The same window as the endpoint's: whole seconds back from now.
  const from = Date.now() - sinceSeconds * 1000;
  const lag = await readLag(http, adminToken, sinceSeconds);
  return { lag, delivered: receiver.lag(from), settled, sinceSeconds };
}

async function readLag(http: HttpClient, adminToken: string, sinceSeconds: number): Promise<ConsumerLag[]> {
  const res = await http.request('GET', `/api/v1/admin/outbox/lag?sinceSeconds=${sinceSeconds}`, {
    headers: { authorization: `Bearer ${adminToken}` },
    readBody: true,
  });
  if (res.status !== 200) throw new Error(`GET /admin/outbox/lag answered ${res.status}: ${res.body}`);
  return (JSON.parse(res.body!) as { data: ConsumerLag[] }).data;
}

/**
 * Outbox rows the relay should have delivered by now (replayed rows, due in 2100, are not), and how
 * many events the consumers have applied so far.
 */
async function consumerProgress(bench: BenchContext): Promise<{ due: number; applied: number }> {
  const { rows } = await bench.database.pool.query<{ due: number; applied: number }>(
    `select (select count(*) from outbox_events
             where status in ('PENDING', 'PROCESSING') and next_attempt_at <= now())::int as due,
            (select count(*) from processed_messages where consumer <> 'order')::int as applied`,
  );
  return rows[0]!;
}
