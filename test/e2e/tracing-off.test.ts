import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { bullTelemetry, currentTraceContext, isTracing, tracingRequested } from '../../src/tracing/tracing';
import { createProduct } from '../support/catalog';
import { rows } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

describe('when tracing is on: the OTEL_* variables decide', () => {
  it('is on with an OTLP endpoint or an exporter other than none, never with OTEL_SDK_DISABLED=true', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_SERVICE_NAME: 'shop' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/v1/traces' })).toBe(
      true,
    );
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(
      tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }),
    ).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });
});

describe('tracing off (the default): nothing is traced and nothing extra is carried', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '0' });
  });
  afterAll(() => shop?.close());

  it('leaves the OpenTelemetry API a no-op, BullMQ without telemetry and outbox rows without a trace context', async () => {
    expect(isTracing()).toBe(false);
    expect(bullTelemetry()).toEqual({});
    expect(currentTraceContext()).toBeNull();
    // No tracer provider was registered: spans do not record and carry no trace id.
    const span = trace.getTracer('probe').startSpan('probe');
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('0'.repeat(32));
    span.end();

    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const order = await placeOrder(shop, buyer, [
      { productId: await createProduct(shop, seller), quantity: 1 },
    ]);
    const written = await rows<{ trace_context: string | null }>(
      shop,
      sql`select trace_context from outbox_events where aggregate_id = ${order.id}`,
    );
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((r) => r.trace_context === null)).toBe(true);
    // The payment window's time bucket, added after the placement committed, carries no trace metadata.
    const bucket = `expire-at-${Math.ceil(Date.parse(order.expiresAt) / 1000)}`;
    const job = await eventually(async () => {
      const found = await shop.ctx.queues.orderShards[0]!.getJob(bucket);
      if (!found) throw new Error('the timeout job is not enqueued yet');
      return found;
    });
    expect(job.opts.delay).toBeGreaterThan(0);
    expect(job.opts.telemetry).toBeUndefined();
  });
});
