import { createRoute, z } from '@hono/zod-openapi';
import { getCommandReceipt } from '../../commands/command-queries';
import type { AppContext } from '../../context';
import { resourcePath } from '../command-response';
import { dataEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonContent } from '../openapi';
import { CommandReceiptSchema } from '../schemas/order.schemas';

const receipt = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Commands'],
  summary: 'The outcome of a command that answered 202',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.string().regex(/^[a-z]+-[0-9a-f-]{20,64}$|^[0-9a-f-]{36}$/) }) },
  responses: {
    200: jsonContent(
      dataEnvelope(CommandReceiptSchema),
      'QUEUED, DONE (with the resource) or FAILED (with the error)',
    ),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

/** Mounted at /commands. */
export function commandRoutes(ctx: AppContext) {
  return createRouter().openapi(receipt, async (c) => {
    const { outcome, ...view } = await getCommandReceipt(
      ctx,
      currentUser(c),
      c.req.valid('param').id,
      c.get('lang') ?? 'en',
    );
    return c.json({ data: { ...view, ...(outcome ? { resource: resourcePath(outcome) } : {}) } }, 200);
  });
}
