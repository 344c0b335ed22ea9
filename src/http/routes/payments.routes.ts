import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { getPayment, listPayments, requestPayment } from '../../payments/payments.service';
import { commandResponse } from '../command-response';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam, pagingQuery } from '../schemas/common';
import { CommandReceiptSchema, RequiredIdempotencyKeyHeader } from '../schemas/order.schemas';
import { PayBody, PaymentListQuery, PaymentSchema } from '../schemas/payment.schemas';

const tags = ['Payments'];
const guarded = { security: bearerSecurity, middleware: requireUser, tags };

const pay = createRoute({
  method: 'post',
  path: '/',
  summary: 'Pay an order by card or from the prepaid balance (Idempotency-Key required)',
  ...guarded,
  request: { headers: RequiredIdempotencyKeyHeader, ...jsonBody(PayBody) },
  responses: {
    200: jsonContent(
      dataEnvelope(PaymentSchema),
      'A replay of the same key and body: the payment as it is now',
    ),
    202: jsonContent(
      dataEnvelope(z.union([PaymentSchema, CommandReceiptSchema])),
      'The payment, REQUESTED or PROCESSING (or a command receipt to poll when the order was slow to answer)',
    ),
    ...errorResponses(
      'UNAUTHORIZED',
      'IDEMPOTENCY_KEY_REQUIRED',
      'IDEMPOTENCY_KEY_MISMATCH',
      'ORDER_NOT_FOUND',
      'ORDER_NOT_PAYABLE',
      'PAYMENT_IN_PROGRESS',
    ),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  summary: "The caller's payments, newest first",
  ...guarded,
  request: { query: PaymentListQuery.extend(pagingQuery) },
  responses: {
    200: jsonContent(pageEnvelope(PaymentSchema), 'A page of payments'),
    ...errorResponses('UNAUTHORIZED'),
  },
});

const detail = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'One payment (owner or admin)',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(PaymentSchema), 'The payment'),
    ...errorResponses('UNAUTHORIZED', 'PAYMENT_NOT_FOUND'),
  },
});

/** Mounted at /payments. Paying is a command to the order's mailbox; reads come from the database. */
export function paymentRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(pay, async (c) => {
      const outcome = await requestPayment(
        ctx,
        currentUser(c),
        c.req.valid('json'),
        c.req.valid('header')['idempotency-key'],
      );
      return commandResponse(c, pay, outcome);
    })
    .openapi(list, async (c) => c.json(await listPayments(ctx, currentUser(c), c.req.valid('query')), 200))
    .openapi(detail, async (c) =>
      c.json({ data: await getPayment(ctx, currentUser(c), c.req.valid('param').id) }, 200),
    );
}
