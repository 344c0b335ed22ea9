import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { getRefund, requestRefund } from '../../payments/refunds.service';
import { commandResponse } from '../command-response';
import { dataEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import { CommandReceiptSchema, RequiredIdempotencyKeyHeader } from '../schemas/order.schemas';
import { RefundBody, RefundSchema } from '../schemas/payment.schemas';

const tags = ['Refunds'];
const guarded = { security: bearerSecurity, middleware: requireUser, tags };

const refund = createRoute({
  method: 'post',
  path: '/',
  summary: 'Refund a payment in part or in full (buyer or admin; Idempotency-Key required)',
  ...guarded,
  request: { headers: RequiredIdempotencyKeyHeader, ...jsonBody(RefundBody) },
  responses: {
    200: jsonContent(
      dataEnvelope(RefundSchema),
      'A replay of the same key and body: the refund as it is now',
    ),
    202: jsonContent(
      dataEnvelope(z.union([RefundSchema, CommandReceiptSchema])),
      'The refund, REQUESTED (or a command receipt to poll when the order was slow to answer)',
    ),
    ...errorResponses(
      'UNAUTHORIZED',
      'IDEMPOTENCY_KEY_REQUIRED',
      'IDEMPOTENCY_KEY_MISMATCH',
      'REFUND_EXCEEDS_PAYMENT',
      'PAYMENT_NOT_FOUND',
      'ORDER_NOT_FOUND',
      'INVALID_ORDER_TRANSITION',
    ),
  },
});

const detail = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'One refund (the buyer or an admin)',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(RefundSchema), 'The refund'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

/** Mounted at /refunds. */
export function refundRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(refund, async (c) => {
      const outcome = await requestRefund(
        ctx,
        currentUser(c),
        c.req.valid('json'),
        c.req.valid('header')['idempotency-key'],
      );
      return commandResponse(c, refund, outcome);
    })
    .openapi(detail, async (c) =>
      c.json({ data: await getRefund(ctx, currentUser(c), c.req.valid('param').id) }, 200),
    );
}
