import { createRoute } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { deleteWebhook, listWebhooks, registerWebhook } from '../../webhooks/webhooks.service';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { currentUser, requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import { NewWebhookBody, WebhookListQuery, WebhookSchema } from '../schemas/operations.schemas';

const admin = { security: bearerSecurity, middleware: requireRole('ADMIN'), tags: ['Admin'] };

const create = createRoute({
  method: 'post',
  path: '/',
  summary: 'Register an endpoint for signed event deliveries (see docs/webhooks.md)',
  description:
    'Each delivery POSTs {id, type, occurredAt, data} with X-Shop-Event, X-Shop-Timestamp (unix seconds) and ' +
    'X-Shop-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + rawBody)>. In production the URL ' +
    'must resolve to public addresses only.',
  ...admin,
  request: jsonBody(NewWebhookBody),
  responses: {
    201: jsonContent(dataEnvelope(WebhookSchema), 'The endpoint (its secret is never shown again)'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  summary: 'Registered endpoints with their delivery statistics',
  ...admin,
  request: { query: WebhookListQuery },
  responses: {
    200: jsonContent(pageEnvelope(WebhookSchema), 'A page of endpoints, newest first'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  summary: 'Stop delivering to an endpoint (its delivery history stays)',
  ...admin,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(WebhookSchema), 'The removed endpoint'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND'),
  },
});

/** Mounted at /admin/webhooks. */
export function adminWebhookRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(create, async (c) =>
      c.json({ data: await registerWebhook(ctx, currentUser(c), c.req.valid('json')) }, 201),
    )
    .openapi(list, async (c) => c.json(await listWebhooks(ctx, c.req.valid('query')), 200))
    .openapi(remove, async (c) => c.json({ data: await deleteWebhook(ctx, c.req.valid('param').id) }, 200));
}
