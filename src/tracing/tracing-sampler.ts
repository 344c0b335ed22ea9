// Loaded only when tracing is on (through tracing-sdk.ts).
import { type Attributes, type Context, type Link, type SpanKind, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/**
 * BullMQ's own housekeeping, traced by bullmq-otel on every worker: a stalled-job check per queue every
 * WORKER_LOCK_MS and a poll that found nothing. As roots of traces of their own they would bury the
 * traces of requests and jobs; inside a job's trace they stay.
 */
const HOUSEKEEPING = /^(moveStalledJobsToWait|startStalledCheckTimer|getNextJob) /;

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name (the SDK's default: parentbased_always_on). */
export function samplerFromEnv(env: Record<string, string | undefined> = process.env): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on';
  const ratio = () => {
    const value = Number(env.OTEL_TRACES_SAMPLER_ARG);
    return env.OTEL_TRACES_SAMPLER_ARG?.trim() && value >= 0 && value <= 1 ? value : 1;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** `inner`, except that BullMQ housekeeping never starts a trace. */
export class QuietHousekeepingSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (!trace.getSpanContext(context) && HOUSEKEEPING.test(spanName)) {
      return { decision: SamplingDecision.NOT_RECORD };
    }
    return this.inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `QuietHousekeeping{${this.inner.toString()}}`;
  }
}
