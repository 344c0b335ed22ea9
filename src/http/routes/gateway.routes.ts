import { createRoute } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { listCharges } from '../../payments/gateway/gateway-ledger';
import { pageEnvelope } from '../envelope';
import { requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonContent } from '../openapi';
import { pagingQuery } from '../schemas/common';
import { ChargeListQuery, GatewayChargeSchema } from '../schemas/payment.schemas';

const charges = createRoute({
  method: 'get',
  path: '/charges',
  tags: ['Admin'],
  summary: "The mock payment gateway's ledger of captures and refunds, newest first",
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { query: ChargeListQuery.extend(pagingQuery) },
  responses: {
    200: jsonContent(pageEnvelope(GatewayChargeSchema), 'A page of gateway charges'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

/** Mounted at /admin/gateway. */
export function adminGatewayRoutes(ctx: AppContext) {
  return createRouter().openapi(charges, async (c) =>
    c.json(await listCharges(ctx, c.req.valid('query')), 200),
  );
}
