import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext, Phase } from '../scenario';
import type { HttpClient } from './http-client';
import { runClosedLoop } from './load';
import { pick } from './shop-requests';
import { Samples, summarize } from './stats';

/**
 * How often a buyer asks for the order while its payment settles. Each poll is a GET /orders/{id}
 * the shop serves during the window (its cost is in the figures; polls per checkout are reported);
 * the interval bounds how late PAID is seen (on average half of it).
 */
export const POLL_EVERY_MS = 10;
/** A checkout whose order is not PAID by then is counted as `PAID-timeout`. */
const PAID_DEADLINE_MS = 30_000;

/** Where one checkout's time went, for the measured checkouts that reached PAID. */
export class CheckoutStages {
  /** performance.now() when the measured window opened (set by the phase's onMeasureStart). */
  measureFrom = Number.POSITIVE_INFINITY;
  readonly place = new Samples();
  readonly pay = new Samples();
  readonly settle = new Samples();
  polls = 0;

  add(startedAt: number, place: number, pay: number, settle: number, polls: number) {
    if (startedAt < this.measureFrom) return;
    this.place.push(place);
    this.pay.push(pay);
    this.settle.push(settle);
    this.polls += polls;
  }

  summary() {
    const count = this.place.length;
    return {
      checkouts: count,
      place: summarize(this.place.values()),
      pay: summarize(this.pay.values()),
      settle: summarize(this.settle.values()),
      pollsPerCheckout: count > 0 ? this.polls / count : 0,
    };
  }
}

/**
 * One card checkout as a buyer's client does it: POST /orders (201), POST /payments with a fresh
 * Idempotency-Key (202), then GET /orders/{id} every POLL_EVERY_MS until the order is PAID.
 * Resolves with `PAID`, or with where it stopped (`order-409`, `pay-409`, `CANCELLED`, …).
 */
export async function checkout(
  http: HttpClient,
  token: string,
  productId: string,
  stages: CheckoutStages,
): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const started = performance.now();
  const placed = await http.request('POST', '/api/v1/orders', {
    headers: auth,
    body: { items: [{ productId, quantity: 1 }] },
    readBody: true,
  });
  // A 202 (the worker answered after REPLY_TIMEOUT_MS) carries a command receipt, not the order.
  if (placed.status !== 201) return `order-${placed.status}`;
  const orderId = (JSON.parse(placed.body!) as { data: { id: string } }).data.id;
  const orderPlaced = performance.now();
  const payment = await http.request('POST', '/api/v1/payments', {
    headers: { ...auth, 'idempotency-key': randomUUID() },
    body: { orderId, method: 'CARD', cardToken: 'tok_ok' },
  });
  if (payment.status !== 202) return `pay-${payment.status}`;
  const payAccepted = performance.now();
  for (let polls = 1; performance.now() - payAccepted < PAID_DEADLINE_MS; polls++) {
    const res = await http.request('GET', `/api/v1/orders/${orderId}`, { headers: auth, readBody: true });
    if (res.status !== 200) return `poll-${res.status}`;
    const { status } = (JSON.parse(res.body!) as { data: { status: string } }).data;
    if (status === 'PAID') {
      const now = performance.now();
      stages.add(started, orderPlaced - started, payAccepted - orderPlaced, now - payAccepted, polls);
      return 'PAID';
    }
    if (status !== 'PENDING') return status;
    await sleep(POLL_EVERY_MS);
  }
  return 'PAID-timeout';
}

/** A load phase of `concurrency` buyers checking out one unit of a random product each, over and over. */
export async function runCheckoutPhase(
  bench: BenchContext,
  label: string,
  concurrency: number,
  buyers: { token: string }[],
  products: string[],
): Promise<{ phase: Phase; stages: CheckoutStages }> {
  const http = bench.http(concurrency);
  const stages = new CheckoutStages();
  const phase = await bench.phase(label, { concurrency }, (options) =>
    runClosedLoop((vu) => checkout(http, buyers[vu]!.token, pick(products), stages), {
      ...options,
      onMeasureStart: () => {
        stages.measureFrom = performance.now();
        options.onMeasureStart?.();
      },
    }),
  );
  return { phase, stages };
}
