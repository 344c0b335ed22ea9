import { Writable } from 'node:stream';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { createLogger } from '../../src/logger';
import { inSpan, isTracing, startTracing, stopTracing } from '../../src/tracing/tracing';
import { createProduct } from '../support/catalog';
import { eventsSettled, rows, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

const exporter = new InMemorySpanExporter();
let shop: TestShop;
let receiver: WebhookReceiver;
let buyer: TestUser;
let productId: string;

beforeAll(async () => {
  // Before the shop exists, as the preload does under OTEL_* variables: its queues, workers, app and
  // logger are built with tracing on. Spans go to memory instead of an OTLP endpoint.
  await startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '5' });
  receiver = await startReceiver();
  const [admin, seller] = await Promise.all([shop.createUser('ADMIN'), shop.createUser('SELLER')]);
  buyer = await shop.createUser('BUYER');
  const hook = await shop.request('POST', '/api/v1/admin/webhooks', {
    token: admin.token,
    body: { url: receiver.url, events: ['ORDER_CREATED', 'ORDER_PAID'], secret: 'whsec-0123456789abcdef' },
  });
  expect(hook.status).toBe(201);
  productId = await createProduct(shop, seller, { price: 7000 });
  await eventsSettled(shop);
});
afterAll(async () => {
  await shop?.close();
  await receiver?.close();
  await stopTracing();
});

/** Our spans and BullMQ's (PostgreSQL and Redis statements left out), by trace. */
function finishedSpans() {
  return exporter
    .getFinishedSpans()
    .filter((s) => ['shop', '@hono/otel', 'bullmq'].includes(s.instrumentationScope.name));
}

/** The names of a span's ancestors and its own, root first, following the recorded parent links. */
function pathOf(span: ReadableSpan, spans: ReadableSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const path = [span.name];
  for (let at = span; at.parentSpanContext; ) {
    const parent = byId.get(at.parentSpanContext.spanId);
    if (!parent) {
      path.unshift(`<missing parent ${at.parentSpanContext.spanId}>`);
      break;
    }
    path.unshift(parent.name);
    at = parent;
  }
  return path;
}

/**
 * The consumer spans that include an event of this type: a consumer that applies many at once (the
 * webhooks consumer) is handed a job's events together, its span named after all their types.
 */
function consumersOf(trace: ReadableSpan[], eventType: string): ReadableSpan[] {
  return trace.filter((s) =>
    String(s.attributes['shop.event.type'] ?? '')
      .split('+')
      .includes(eventType),
  );
}

const consumeSpanName = (span: ReadableSpan) =>
  `consume ${String(span.attributes['shop.event.type'])} (${String(span.attributes['shop.consumer'])})`;

function find(spans: ReadableSpan[], name: string, attributes: Record<string, unknown> = {}): ReadableSpan {
  const found = spans.filter(
    (s) => s.name === name && Object.entries(attributes).every(([k, v]) => s.attributes[k] === v),
  );
  if (found.length !== 1)
    throw new Error(`expected one span "${name}" ${JSON.stringify(attributes)}, found ${found.length}`);
  return found[0]!;
}

/**
 * The spans of the trace rooted at `root`, once it holds the webhook delivery of `eventType` with
 * every ancestor up to the root (a job's span ends a moment after the job leaves its queue).
 */
async function settledTrace(root: string, eventType: string): Promise<ReadableSpan[]> {
  const trace = await eventually(async (): Promise<ReadableSpan[] | undefined> => {
    const spans = finishedSpans();
    const http = spans.find((s) => s.name === root);
    if (!http) return undefined;
    const trace = spans.filter((s) => s.spanContext().traceId === http.spanContext().traceId);
    const delivery = trace.find(
      (s) => s.name === 'process webhooks' && s.attributes['bullmq.job.name'] === eventType,
    );
    const complete = delivery && pathOf(delivery, trace)[0] === root;
    return complete ? trace : undefined;
  });
  return trace!;
}

describe('tracing across actors (OTEL_* on)', () => {
  it('follows POST /orders through the order job, the relay, the events job, its consumers and the webhook', async () => {
    expect(isTracing()).toBe(true);
    exporter.reset();
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => receiver.received.some((d) => d.rawBody.includes('"ORDER_CREATED"')));
    await eventsSettled(shop);
    const trace = await settledTrace('POST /api/v1/orders', 'ORDER_CREATED');
    const http = find(trace, 'POST /api/v1/orders');
    expect(http.parentSpanContext).toBeUndefined();

    const place = find(trace, 'process order', { 'shop.command': 'PLACE' });
    expect(pathOf(place, trace)).toEqual(['POST /api/v1/orders', 'add order.PLACE', 'process order']);
    expect(place.attributes).toMatchObject({
      'shop.order.id': order.id,
      'shop.order.state_before': '',
      'shop.order.state_after': 'PENDING.awaitingPayment',
    });
    expect(place.attributes['shop.job.id']).toBe(place.attributes['bullmq.job.id']);

    const consumers = consumersOf(trace, 'ORDER_CREATED');
    expect(consumers.map((s) => s.attributes['shop.consumer']).sort()).toEqual([
      'notifications',
      'order-status',
      'webhooks',
    ]);
    for (const consumer of consumers) {
      expect(pathOf(consumer, trace)).toEqual([
        'POST /api/v1/orders',
        'add order.PLACE',
        'process order',
        'outbox relay',
        'addBulk events',
        'process events',
        consumeSpanName(consumer),
      ]);
    }
    const delivery = find(trace, 'process webhooks', { 'bullmq.job.name': 'ORDER_CREATED' });
    const fanOut = consumers.find((c) => c.attributes['shop.consumer'] === 'webhooks')!;
    expect(pathOf(delivery, trace).slice(-3)).toEqual([
      consumeSpanName(fanOut),
      'addBulk webhooks',
      'process webhooks',
    ]);
  });

  it('follows POST /payments through PAY, the capture and the PAID step it applies to the consumers of ORDER_PAID, in one trace', async () => {
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventsSettled(shop);
    exporter.reset();
    const paid = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': `trace-${order.id}` },
      body: { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' },
    });
    expect(paid.status).toBe(202);
    await eventually(async () =>
      receiver.received.some((d) => d.rawBody.includes('"ORDER_PAID"') && d.rawBody.includes(order.id)),
    );
    await eventsSettled(shop);
    const trace = await settledTrace('POST /api/v1/payments', 'ORDER_PAID');
    const http = find(trace, 'POST /api/v1/payments');
    expect(http.parentSpanContext).toBeUndefined();
    const traceId = http.spanContext().traceId;
    const spans = finishedSpans();

    const pay = find(trace, 'process order', { 'shop.command': 'PAY' });
    const capture = find(trace, 'process payment', { 'shop.command': 'CAPTURE' });
    // The payment actor applies its fact to the order itself, in a span of the capture's job.
    const notice = find(trace, 'apply order fact', { 'shop.order.event': 'PAYMENT_SUCCEEDED' });
    const toPay = ['POST /api/v1/payments', 'add order.PAY', 'process order'];
    const toCapture = [...toPay, 'outbox relay', 'addBulk payment', 'process payment'];
    const toPaid = [...toCapture, 'apply order fact'];
    expect(pathOf(pay, trace)).toEqual(toPay);
    expect(pathOf(capture, trace)).toEqual(toCapture);
    expect(pathOf(notice, trace)).toEqual(toPaid);
    expect(capture.attributes['shop.order.id']).toBe(order.id);
    expect(capture.attributes['shop.payment.id']).toBe(paid.body.data.id);
    expect(pay.attributes).toMatchObject({
      'shop.order.id': order.id,
      'shop.order.state_before': 'PENDING.awaitingPayment',
      'shop.order.state_after': 'PENDING.paying',
    });
    expect(notice.attributes).toMatchObject({
      'shop.order.id': order.id,
      'shop.order.state_before': 'PENDING.paying',
      'shop.order.state_after': 'PAID.active',
    });

    const onPaid = consumersOf(trace, 'ORDER_PAID');
    expect(onPaid.map((s) => s.attributes['shop.consumer']).sort()).toEqual([
      'order-status',
      'sales-stats',
      'webhooks',
    ]);
    for (const consumer of onPaid) {
      expect(pathOf(consumer, trace)).toEqual([
        ...toPaid,
        'outbox relay',
        'addBulk events',
        'process events',
        consumeSpanName(consumer),
      ]);
    }
    const delivery = find(trace, 'process webhooks', { 'bullmq.job.name': 'ORDER_PAID' });
    expect(pathOf(delivery, trace)).toEqual([
      ...toPaid,
      'outbox relay',
      'addBulk events',
      'process events',
      consumeSpanName(onPaid.find((c) => c.attributes['shop.consumer'] === 'webhooks')!),
      'addBulk webhooks',
      'process webhooks',
    ]);
    // Nothing of this checkout started a trace of its own.
    const checkoutJobs = spans.filter((s) => s.attributes['shop.order.id'] === order.id);
    expect(new Set(checkoutJobs.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
  });

  it('stores the trace context with the outbox rows of a traced transaction', async () => {
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const written = await rows<{ trace_context: string | null }>(
      shop,
      sql`select trace_context from outbox_events where aggregate_id = ${order.id}`,
    );
    expect(written.length).toBeGreaterThan(0);
    for (const row of written)
      expect(JSON.parse(row.trace_context!).traceparent).toMatch(/^00-[0-9a-f]{32}-/);
  });

  it('puts the trace and span ids on log lines written inside a span', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ logLevel: 'info', env: 'production' }, {}, sink);
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('logging', {}, async () => {
      const { trace } = await import('@opentelemetry/api');
      ids = trace.getActiveSpan()!.spanContext();
      log.info('inside');
    });
    log.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l));
    expect(inside).toMatchObject({ msg: 'inside', traceId: ids!.traceId, spanId: ids!.spanId });
    expect(outside.traceId).toBeUndefined();
  });
});

describe('a timer fires in the trace that set it', () => {
  let timed: TestShop;
  beforeAll(async () => {
    // A short payment window, and no sweeper run in the meantime: the delayed job itself expires the order.
    timed = await createTestShop({
      WORKERS: 'all',
      ORDER_PAYMENT_TIMEOUT_MS: '800',
      ORDER_SWEEP_INTERVAL_MS: '600000',
    });
  });
  afterAll(() => timed?.close());

  it("runs the payment window's expiry in the trace of the POST /orders that opened its time bucket", async () => {
    const seller = await timed.createUser('SELLER');
    const customer = await timed.createUser('BUYER');
    const product = await createProduct(timed, seller, { price: 5000 });
    exporter.reset();
    const order = await placeOrder(timed, customer, [{ productId: product, quantity: 1 }]);
    const expiry = await eventually(async () =>
      finishedSpans().find(
        (s) => s.attributes['shop.order.id'] === order.id && s.attributes['shop.order.event'] === 'EXPIRE',
      ),
    );
    const trace = finishedSpans().filter((s) => s.spanContext().traceId === expiry!.spanContext().traceId);
    expect(expiry!.attributes['shop.order.state_after']).toMatch(/^CANCELLED/);
    // The due second's time bucket is added after the placement commits, in its job's span: the order
    // that opens a bucket carries it in its trace (later orders of the same second share that job).
    expect(pathOf(expiry!, trace)).toEqual([
      'POST /api/v1/orders',
      'add order.PLACE',
      'process order',
      'add order.TIMERS_DUE',
      'process order',
    ]);
  });
});
