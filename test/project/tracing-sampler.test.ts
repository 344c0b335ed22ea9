import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { QuietHousekeepingSampler, samplerFromEnv } from '../../src/tracing/tracing-sampler';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const sampledParent = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});
const decide = (sampler: ReturnType<typeof samplerFromEnv>, name: string, context = ROOT_CONTEXT) =>
  sampler.shouldSample(context, TRACE_ID, name, SpanKind.INTERNAL, {}, []).decision;

describe('the trace sampler', () => {
  it('is the one OTEL_TRACES_SAMPLER names, parentbased_always_on by default', () => {
    expect(samplerFromEnv({}).toString()).toBe(
      'ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}',
    );
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).toString()).toBe('AlwaysOffSampler');
    expect(
      samplerFromEnv({
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      }).toString(),
    ).toContain('root=TraceIdRatioBased{0.1}');
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' }).toString(),
    ).toBe('TraceIdRatioBased{1}');
  });

  it("never lets BullMQ's housekeeping start a trace, and keeps it inside one", () => {
    const sampler = new QuietHousekeepingSampler(samplerFromEnv({}));
    for (const name of [
      'moveStalledJobsToWait order',
      'startStalledCheckTimer events',
      'getNextJob payment',
    ]) {
      expect(decide(sampler, name)).toBe(SamplingDecision.NOT_RECORD);
      expect(decide(sampler, name, sampledParent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    }
    expect(decide(sampler, 'POST /api/v1/orders')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(sampler, 'process order')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(
      decide(
        new QuietHousekeepingSampler(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' })),
        'process order',
      ),
    ).toBe(SamplingDecision.NOT_RECORD);
  });
});
