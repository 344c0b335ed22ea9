// Loaded only when tracing is on (src/tracing/tracing.ts imports it dynamically).
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { QuietHousekeepingSampler, samplerFromEnv } from './tracing-sampler';

/**
 * The Node SDK as the OTEL_* variables configure it (exporter, endpoint, sampler, service name,
 * resource attributes), with PostgreSQL and Redis spans. Statements and commands are traced only
 * inside a span (a request, a job), and BullMQ's housekeeping starts no trace: the pollers'
 * background traffic makes no traces of its own.
 */
export function startTracingSdk(spanProcessors?: SpanProcessor[]): NodeSDK {
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: 'shop' }),
    ...(spanProcessors ? { spanProcessors } : {}),
    sampler: new QuietHousekeepingSampler(samplerFromEnv()),
    // Traces only: the shop's metrics are Prometheus's (/metrics) and its logs pino's, so OTLP metrics
    // and logs stay off unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
    ...(process.env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(process.env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return sdk;
}
