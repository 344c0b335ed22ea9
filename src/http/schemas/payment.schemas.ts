import { z } from '@hono/zod-openapi';
import { GATEWAY_CHARGE_KINDS } from '../../db/schema/gateway-charge.entity';
import { PAYMENT_METHODS, PAYMENT_STATUSES } from '../../db/schema/payment.entity';
import { REFUND_STATUSES } from '../../db/schema/refund.entity';
import { GATEWAY_CHARGE_SORT_FIELDS } from '../../payments/gateway/mock-gateway';
import { PAYMENT_SORT_FIELDS } from '../../payments/payments.service';
import { text } from '../../validation/text';
import { idInput, money, sortByQuery } from './common';

export const PayBody = z
  .object({
    orderId: idInput(),
    method: z.enum(PAYMENT_METHODS),
    cardToken: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -')
      .optional()
      .openapi({ example: 'tok_ok', description: 'CARD: absent means tok_ok; ignored for BALANCE' }),
  })
  // API.md lists cardToken as optional without tying it to CARD: a BALANCE payment ignores it.
  .transform((b) => (b.method === 'CARD' ? b : { ...b, cardToken: undefined }))
  .openapi('PaymentRequest');

export const RefundBody = z
  .object({
    paymentId: idInput(),
    amount: money()
      .min(1)
      .optional()
      .openapi({ description: 'won; defaults to what is left of the payment' }),
    reason: text().trim().max(500).optional(),
    restock: z.boolean().optional().openapi({
      description:
        "whether the units return to stock: true for a PAID order, false for a CONFIRMED one; only an ADMIN's choice counts (a buyer's is ignored)",
    }),
  })
  .openapi('RefundRequest');

export const PaymentListQuery = z.object({
  orderId: idInput().optional(),
  status: z.enum(PAYMENT_STATUSES).optional(),
  sort: sortByQuery(PAYMENT_SORT_FIELDS),
});

export const ChargeListQuery = z.object({
  paymentId: idInput().optional(),
  orderId: idInput().optional(),
  sort: sortByQuery(GATEWAY_CHARGE_SORT_FIELDS),
});

export const PaymentSchema = z
  .object({
    id: z.uuid(),
    orderId: z.uuid(),
    userId: z.uuid(),
    method: z.enum(PAYMENT_METHODS),
    amount: z.number().int(),
    status: z.enum(PAYMENT_STATUSES),
    failureReason: z.string().nullable().openapi({ example: 'CARD_DECLINED' }),
    refundedAmount: z.number().int(),
    attempts: z.number().int(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .openapi('Payment');

export const RefundSchema = z
  .object({
    id: z.uuid(),
    paymentId: z.uuid(),
    orderId: z.uuid(),
    userId: z.uuid(),
    amount: z.number().int(),
    reason: z.string().nullable(),
    restock: z.boolean(),
    status: z.enum(REFUND_STATUSES),
    failureReason: z.string().nullable(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .openapi('Refund');

export const GatewayChargeSchema = z
  .object({
    id: z.uuid(),
    paymentId: z.uuid(),
    orderId: z.uuid(),
    refundId: z.uuid().nullable(),
    kind: z.enum(GATEWAY_CHARGE_KINDS),
    amount: z.number().int().openapi({ description: 'positive won, either way' }),
    createdAt: z.string(),
  })
  .openapi('GatewayCharge');
