import { z } from '@hono/zod-openapi';

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
