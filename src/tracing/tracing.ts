import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Telemetry } from 'bullmq';
import type { MiddlewareHandler } from 'hono';

/**
 * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it. While off, the SDK,
 * the instrumentations and bullmq-otel are never loaded and every helper here returns at its first
 * line: the API stays the no-op one. While on, one trace follows an order through every actor: the
 * HTTP request (@hono/otel), the jobs it enqueues (BullMQ's telemetry: the context rides in the job's
 * options), the transaction's outbox rows (a `trace_context` column) and the relay that delivers them.
 */

export const TRACER_NAME = 'shop';

interface ActiveTracing {
  telemetry: Telemetry;
  httpMiddleware: MiddlewareHandler;
  shutdown: () => Promise<void>;
}
let active: ActiveTracing | undefined;

/**
 * Whether the environment asks for traces: an OTLP endpoint or an explicit OTEL_TRACES_EXPORTER
 * (other than `none`), unless OTEL_SDK_DISABLED=true.
 */
export function tracingRequested(env: Record<string, string | undefined> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter) return exporter.split(',').some((name) => name.trim() !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export function isTracing(): boolean {
  return active !== undefined;
}

export interface TracingOptions {
  /** Where spans go; by default the exporter the OTEL_* variables name (OTLP). Tests pass an in-memory one. */
  spanProcessors?: SpanProcessor[];
}

/** Loads and starts the OpenTelemetry SDK with the pg and ioredis instrumentations (once per process). */
export async function startTracing(options: TracingOptions = {}): Promise<void> {
  if (active) return;
  const [{ startTracingSdk }, { BullMQOtel }, { httpInstrumentationMiddleware }] = await Promise.all([
    import('./tracing-sdk'),
    import('bullmq-otel'),
    import('@hono/otel'),
  ]);
  const sdk = startTracingSdk(options.spanProcessors);
  active = {
    telemetry: new BullMQOtel({ tracerName: TRACER_NAME }),
    // Span per request named by route template (`POST /api/v1/orders`); a traceparent header is continued.
    httpMiddleware: httpInstrumentationMiddleware({ captureActiveRequests: false }),
    shutdown: () => sdk.shutdown(),
  };
}

/** Flushes what is buffered and stops the SDK. */
export async function stopTracing(): Promise<void> {
  const stopping = active;
  active = undefined;
  await stopping?.shutdown();
}

/** BullMQ's `telemetry` option for a queue or a worker: present only while tracing. */
export function bullTelemetry(): { telemetry?: Telemetry } {
  return active ? { telemetry: active.telemetry } : {};
}

/** The HTTP tracing middleware while tracing; undefined otherwise (the app then adds nothing). */
export function httpTracing(): MiddlewareHandler | undefined {
  return active?.httpMiddleware;
}

/** The active trace context as a W3C carrier (JSON), to store with outbox rows; null when not tracing. */
export function currentTraceContext(): string | null {
  if (!active) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? JSON.stringify(carrier) : null;
}

/**
 * Runs `work` in a span that continues the trace stored with outbox rows (a new trace when there is
 * none): the relay's delivery of a transaction's rows joins the trace of the step that wrote them.
 */
export function inStoredTraceContext<T>(
  stored: string | null,
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!active) return work();
  const parent = stored ? propagation.extract(ROOT_CONTEXT, JSON.parse(stored)) : ROOT_CONTEXT;
  return runInSpan(name, { kind: SpanKind.PRODUCER, attributes }, work, parent);
}

/** Runs `work` in a child span of the active one (nothing but `work` when not tracing). */
export function inSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (!active) return work();
  return runInSpan(name, { kind: SpanKind.INTERNAL, attributes }, work, context.active());
}

/** Adds attributes to the active span (a request's, a job's); nothing when not tracing. */
export function annotateActiveSpan(attributes: Attributes): void {
  if (!active) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The active span's ids, for log lines (pino's mixin); empty when there is none. */
export function activeTraceIds(): { traceId?: string; spanId?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

function runInSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes: Attributes },
  work: () => Promise<T>,
  parent: ReturnType<typeof context.active>,
): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, options, parent, async (span: Span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
