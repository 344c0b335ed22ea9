import { z } from '@hono/zod-openapi';
import { text } from '../../validation/text';

export const MAX_RESTOCK_QUANTITY = 1_000_000;

export const InventorySchema = z
  .object({
    productId: z.uuid(),
    stock: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int(),
  })
  .openapi('Inventory');

export const RestockBody = z
  .object({ quantity: z.number().int().min(1).max(MAX_RESTOCK_QUANTITY) })
  .openapi('Restock');

export const AdjustStockBody = z
  .object({
    delta: z
      .number()
      .int()
      .min(-MAX_RESTOCK_QUANTITY)
      .max(MAX_RESTOCK_QUANTITY)
      .refine((d) => d !== 0, 'must not be 0'),
    reason: text().trim().min(1).max(500),
  })
  .openapi('StockAdjustment');

export const InventoryDriftSchema = z
  .object({ productId: z.uuid(), reserved: z.number().int(), heldByPendingOrders: z.number().int() })
  .openapi('InventoryDrift');

export const StockGateRebuildSchema = z
  .object({
    products: z.number().int().openapi({ description: 'Counters rebuilt from PostgreSQL' }),
    settledTakes: z.number().int().openapi({ description: 'Ended commands whose takes were settled' }),
    repaired: z
      .array(z.object({ productId: z.uuid(), gate: z.number().int(), postgres: z.number().int() }))
      .openapi({ description: 'Counters that had drifted, before the rebuild replaced them' }),
  })
  .openapi('StockGateRebuild');
