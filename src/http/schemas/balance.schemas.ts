import { z } from '@hono/zod-openapi';
import { idInput } from './common';

export const MAX_CHARGE_AMOUNT = 10_000_000;

export const BalanceSchema = z
  .object({
    userId: z.uuid(),
    balance: z.number().int().openapi({ description: 'won', example: 50_000 }),
  })
  .openapi('Balance');

export const ChargeBody = z
  .object({
    amount: z
      .number()
      .int()
      .min(1)
      .max(MAX_CHARGE_AMOUNT)
      .openapi({ description: 'won, 1 … 10,000,000', example: 50_000 }),
  })
  .openapi('BalanceCharge');

export const userIdParam = z.object({
  userId: idInput().openapi({ param: { name: 'userId', in: 'path' } }),
});
