import { createRoute } from '@hono/zod-openapi';
import { chargeBalance, getBalance } from '../../balance/balance.service';
import type { AppContext } from '../../context';
import { dataEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { BalanceSchema, ChargeBody, userIdParam } from '../schemas/balance.schemas';

const charge = createRoute({
  method: 'post',
  path: '/charge',
  tags: ['Balance'],
  summary: 'Charge the prepaid balance',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  request: jsonBody(ChargeBody),
  responses: {
    200: jsonContent(dataEnvelope(BalanceSchema), 'The balance after the charge'),
    ...errorResponses('UNAUTHORIZED', 'PAYLOAD_TOO_LARGE', 'SERVICE_UNAVAILABLE'),
  },
});

const mine = createRoute({
  method: 'get',
  path: '/me',
  tags: ['Balance'],
  summary: 'The caller’s prepaid balance',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  responses: {
    200: jsonContent(dataEnvelope(BalanceSchema), 'The balance'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

const byUser = createRoute({
  method: 'get',
  path: '/{userId}',
  tags: ['Balance'],
  summary: 'A user’s prepaid balance (ADMIN, or the user themself)',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  request: { params: userIdParam },
  responses: {
    200: jsonContent(dataEnvelope(BalanceSchema), 'The balance'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

/** Mounted at /balances. */
export function balanceRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(charge, async (c) => {
      const data = await chargeBalance(ctx, currentUser(c).id, c.req.valid('json').amount);
      return c.json({ data }, 200);
    })
    .openapi(mine, async (c) => {
      const user = currentUser(c);
      return c.json({ data: await getBalance(ctx, user, user.id) }, 200);
    })
    .openapi(byUser, async (c) => {
      const data = await getBalance(ctx, currentUser(c), c.req.valid('param').userId);
      return c.json({ data }, 200);
    });
}
