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

/**
 * How a buyer learns the order is PAID: `poll` GETs the order every POLL_EVERY_MS; `stream` opens the
 * order's live status stream (GET /orders/{id}/events, Server-Sent Events) before paying and reads it
 * until the status leaves PENDING — one request per checkout instead of a few polls.
 */
export type CheckoutWait = 'poll' | 'stream';

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
 * Idempotency-Key (202), then GET /orders/{id} every POLL_EVERY_MS until the order is PAID (or, with
 * `wait` = `stream`, the order's status stream, opened before paying, until it shows PAID).
 * Resolves with `PAID`, or with where it stopped (`order-409`, `pay-409`, `CANCELLED`, …).
 */
export async function checkout(
  http: HttpClient,
  token: string,
  productId: string,
  stages: CheckoutStages,
  wait: CheckoutWait = 'poll',
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
  if (wait === 'stream') return checkoutWatching(http, auth, orderId, started, orderPlaced, stages);
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

/** The last `status` a stream's text carried, if any. */
const lastStatus = (text: string) => [...text.matchAll(/"status":"([A-Z_]+)"/g)].at(-1)?.[1];

/** Pays a placed order with its status stream open, and reads the stream until the order settles. */
async function checkoutWatching(
  http: HttpClient,
  auth: Record<string, string>,
  orderId: string,
  started: number,
  orderPlaced: number,
  stages: CheckoutStages,
): Promise<string> {
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), PAID_DEADLINE_MS);
  try {
    const watching = http.watch(
      `/api/v1/orders/${orderId}/events`,
      { headers: auth, signal: stop.signal },
      (text) => {
        const status = lastStatus(text);
        return status !== undefined && status !== 'PENDING';
      },
    );
    watching.catch(() => undefined);
    const payment = await http.request('POST', '/api/v1/payments', {
      headers: { ...auth, 'idempotency-key': randomUUID() },
      body: { orderId, method: 'CARD', cardToken: 'tok_ok' },
    });
    if (payment.status !== 202) {
      stop.abort();
      return `pay-${payment.status}`;
    }
    const payAccepted = performance.now();
    const seen = await watching;
    if (seen.status !== 200) return `watch-${seen.status}`;
    const status = lastStatus(seen.body ?? '');
    if (status === 'PAID') {
      stages.add(
        started,
        orderPlaced - started,
        payAccepted - orderPlaced,
        performance.now() - payAccepted,
        0,
      );
      return 'PAID';
    }
    return status === undefined || status === 'PENDING' ? 'PAID-timeout' : status;
  } finally {
    clearTimeout(deadline);
  }
}

/** A load phase of `concurrency` buyers checking out one unit of a random product each, over and over. */
export async function runCheckoutPhase(
  bench: BenchContext,
  label: string,
  concurrency: number,
  buyers: { token: string }[],
  products: string[],
  wait: CheckoutWait = 'poll',
): Promise<{ phase: Phase; stages: CheckoutStages }> {
  const http = bench.http(concurrency);
  const stages = new CheckoutStages();
  const phase = await bench.phase(label, { concurrency }, (options) =>
    runClosedLoop((vu) => checkout(http, buyers[vu]!.token, pick(products), stages, wait), {
      ...options,
      onMeasureStart: () => {
        stages.measureFrom = performance.now();
        options.onMeasureStart?.();
      },
    }),
  );
  return { phase, stages };
}
