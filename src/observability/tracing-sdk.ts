// Loaded only when tracing is on (src/observability/tracing.ts imports it dynamically).
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
    instrumentations: [
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return sdk;
}
