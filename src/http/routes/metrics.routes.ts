import { timingSafeEqual } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../../errors/domain-error';
import type { Metrics } from '../../observability/metrics';
import { errorEnvelope } from '../envelope';
import { createRouter, jsonContent } from '../openapi';

const scrape = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  summary: 'Prometheus metrics (text exposition format)',
  description:
    'Open when METRICS_TOKEN is unset (keep the port internal); otherwise send `Authorization: Bearer <METRICS_TOKEN>`.',
  responses: {
    200: {
      content: { 'text/plain': { schema: z.string() } },
      description: 'HTTP latency, queue depth, job durations, orders by status, outbox lag, gateway latency',
    },
    401: jsonContent(errorEnvelope, 'UNAUTHORIZED (METRICS_TOKEN is set and was not sent)'),
  },
});

/**
 * Mounted at the root. Prometheus convention is an unauthenticated endpoint reachable only from the
 * internal network; for deployments where the API port is public, METRICS_TOKEN makes the scrape
 * need a bearer token (Prometheus `authorization.credentials`) — a static secret, not a user's JWT,
 * so scrapers need no account and no token renewal.
 */
export function metricsRoutes(metrics: Metrics, token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  return createRouter().openapi(scrape, async (c) => {
    if (expected) {
      const sent = Buffer.from(c.req.header('authorization') ?? '');
      if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) {
        throw new DomainError('UNAUTHORIZED', {
          en: 'This scrape needs the metrics token',
          ko: '메트릭을 수집하려면 메트릭 토큰이 필요합니다',
        });
      }
    }
    const body = await metrics.registry.metrics();
    return c.text(body, 200, { 'Content-Type': metrics.registry.contentType });
  });
}
