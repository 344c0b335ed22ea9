import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { listOutboxEvents, retryOutboxEvent } from '../../outbox/outbox-admin';
import { outboxLagByConsumer } from '../../outbox/outbox-lag';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import {
  ConsumerLagSchema,
  OutboxEventSchema,
  OutboxLagQuery,
  OutboxListQuery,
} from '../schemas/operations.schemas';

const admin = { security: bearerSecurity, middleware: requireRole('ADMIN'), tags: ['Admin'] };

const list = createRoute({
  method: 'get',
  path: '/',
  summary: 'Outbox rows, newest first',
  ...admin,
  request: { query: OutboxListQuery },
  responses: {
    200: jsonContent(pageEnvelope(OutboxEventSchema), 'A page of outbox rows'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const lag = createRoute({
  method: 'get',
  path: '/lag',
  summary: 'Outbox lag per consumer (commit → applied), p50/p99, across all processes',
  ...admin,
  request: { query: OutboxLagQuery },
  responses: {
    200: jsonContent(dataEnvelope(z.array(ConsumerLagSchema)), 'One row per consumer'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const retry = createRoute({
  method: 'post',
  path: '/{id}/retry',
  summary: 'Re-queue a FAILED or ALERTED outbox row (attempts counted afresh)',
  ...admin,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(OutboxEventSchema), 'The row, PENDING and due now'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'OUTBOX_EVENT_NOT_RETRYABLE'),
  },
});

/** Mounted at /admin/outbox. */
export function adminOutboxRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(list, async (c) => c.json(await listOutboxEvents(ctx, c.req.valid('query')), 200))
    .openapi(lag, async (c) => {
      const since = new Date(Date.now() - c.req.valid('query').sinceSeconds * 1000);
      return c.json({ data: await outboxLagByConsumer(ctx.orm.em.fork(), since) }, 200);
    })
    .openapi(retry, async (c) => c.json({ data: await retryOutboxEvent(ctx, c.req.valid('param').id) }, 200));
}
