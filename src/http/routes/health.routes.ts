import { createRoute, z } from '@hono/zod-openapi';
import { withTimeout } from '../../async';
import type { LocalizedText } from '../../errors/domain-error';
import { dataEnvelope, errorEnvelope } from '../envelope';
import { requestLog } from '../middleware/request-context';
import { createRouter, jsonContent } from '../openapi';

export type ReadinessCheck = () => Promise<void>;

/** The 503's message in each language (the error handler's envelope, built here with the checks as details). */
const NOT_READY: LocalizedText = { en: 'Not ready', ko: '서비스가 아직 준비되지 않았습니다' };

const CheckState = z.enum(['UP', 'DOWN']);
const Health = z
  .object({ status: CheckState, checks: z.record(z.string(), CheckState).optional() })
  .openapi('Health');

const live = createRoute({
  method: 'get',
  path: '/live',
  tags: ['Operations'],
  summary: 'Liveness: the process answers',
  responses: { 200: jsonContent(dataEnvelope(Health), 'The process is up') },
});

const ready = createRoute({
  method: 'get',
  path: '/ready',
  tags: ['Operations'],
  summary: 'Readiness: PostgreSQL, Redis and the workers answer within a second',
  responses: {
    200: jsonContent(dataEnvelope(Health), 'Every dependency is up'),
    503: jsonContent(errorEnvelope, 'SERVICE_UNAVAILABLE, with the state of every check in details'),
  },
});

/**
 * `/health/live`: the process answers. `/health/ready`: every dependency answers within a second;
 * 503 with the failing ones otherwise, so a load balancer stops sending traffic.
 */
export function healthRoutes(checks: Record<string, ReadinessCheck>) {
  return createRouter()
    .openapi(live, (c) => c.json({ data: { status: 'UP' as const } }, 200))
    .openapi(ready, async (c) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), 1000);
            return [name, 'UP'] as const;
          } catch (error) {
            requestLog(c)?.warn({ check: name, err: String(error) }, 'readiness check failed');
            return [name, 'DOWN'] as const;
          }
        }),
      );
      const isReady = results.every(([, state]) => state === 'UP');
      const body = {
        status: isReady ? ('UP' as const) : ('DOWN' as const),
        checks: Object.fromEntries(results),
      };
      return isReady
        ? c.json({ data: body }, 200)
        : c.json(
            { error: 'SERVICE_UNAVAILABLE', message: NOT_READY[c.get('lang') ?? 'en'], details: [body] },
            503,
          );
    });
}
