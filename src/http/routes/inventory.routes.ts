import { createRoute } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { getInventory, restockProduct } from '../../services/catalog/inventory.service';
import { dataEnvelope } from '../envelope';
import { currentUser, requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { productIdParam } from '../schemas/common';
import { InventorySchema, RestockBody } from '../schemas/inventory.schemas';

const getOne = createRoute({
  method: 'get',
  path: '/{productId}',
  tags: ['Inventory'],
  summary: "A product's stock, reserved units and available units",
  request: { params: productIdParam },
  responses: {
    200: jsonContent(dataEnvelope(InventorySchema), 'The inventory'),
    ...errorResponses('PRODUCT_NOT_FOUND'),
  },
});

const restock = createRoute({
  method: 'post',
  path: '/{productId}/restock',
  tags: ['Inventory'],
  summary: "Add units to a product's stock",
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: { params: productIdParam, ...jsonBody(RestockBody) },
  responses: {
    200: jsonContent(dataEnvelope(InventorySchema), 'The inventory after the restock'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PRODUCT_NOT_FOUND', 'SERVICE_UNAVAILABLE'),
  },
});

/** Mounted at /inventory. */
export function inventoryRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(getOne, async (c) =>
      c.json({ data: await getInventory(ctx, c.req.valid('param').productId) }, 200),
    )
    .openapi(restock, async (c) => {
      const { productId } = c.req.valid('param');
      const inventory = await restockProduct(ctx, currentUser(c), productId, c.req.valid('json').quantity);
      return c.json({ data: inventory }, 200);
    });
}
