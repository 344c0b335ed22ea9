import { createRoute, z } from '@hono/zod-openapi';
import { getInventory } from '../../catalog/inventory.service';
import { findInventoryDrift } from '../../catalog/inventory-actor';
import { rebuildStockGate, reconcileStockGate } from '../../catalog/stock-gate-rebuild';
import { dispatchCommand } from '../../commands/dispatch';
import type { AppContext } from '../../context';
import { commandResponse } from '../command-response';
import { dataEnvelope } from '../envelope';
import { currentUser, requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { productIdParam } from '../schemas/common';
import {
  AdjustStockBody,
  InventoryDriftSchema,
  InventorySchema,
  RestockBody,
  StockGateRebuildSchema,
} from '../schemas/inventory.schemas';
import { CommandReceiptSchema } from '../schemas/order.schemas';

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
    202: jsonContent(dataEnvelope(CommandReceiptSchema), 'Still being processed: poll the Location'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PRODUCT_NOT_FOUND', 'SERVICE_UNAVAILABLE'),
  },
});

const adjust = createRoute({
  method: 'post',
  path: '/{productId}/adjust',
  tags: ['Inventory'],
  summary: 'Correct counted stock up or down (damage, loss, a recount); never below reserved units',
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { params: productIdParam, ...jsonBody(AdjustStockBody) },
  responses: {
    200: jsonContent(dataEnvelope(InventorySchema), 'The inventory after the correction'),
    202: jsonContent(dataEnvelope(CommandReceiptSchema), 'Still being processed: poll the Location'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PRODUCT_NOT_FOUND'),
  },
});

const drift = createRoute({
  method: 'get',
  path: '/drift',
  tags: ['Admin'],
  summary: 'Products whose reserved units differ from what their PENDING orders hold (should be none)',
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  responses: {
    200: jsonContent(
      dataEnvelope(z.array(InventoryDriftSchema)),
      'Drifting products; empty when all is well',
    ),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

const rebuildGate = createRoute({
  method: 'post',
  path: '/stock-gate/rebuild',
  tags: ['Admin'],
  summary:
    'Rebuild the Redis stock gate from PostgreSQL (stock − reserved − units in flight), after settling ended commands',
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  responses: {
    200: jsonContent(dataEnvelope(StockGateRebuildSchema), 'What the rebuild found and did'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'SERVICE_UNAVAILABLE'),
  },
});

/** Mounted at /admin/inventory: the reconciliation check on demand, and the stock gate's rebuild. */
export function adminInventoryRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(drift, async (c) => c.json({ data: await findInventoryDrift(ctx.orm.em.fork()) }, 200))
    .openapi(rebuildGate, async (c) => {
      const { settled, repaired } = await reconcileStockGate(ctx, c.get('log') ?? ctx.log);
      const products = await rebuildStockGate(ctx);
      return c.json({ data: { products, settledTakes: settled, repaired } }, 200);
    });
}

/** Mounted at /inventory. Stock changes go through the inventory actor's mailbox. */
export function inventoryRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(getOne, async (c) =>
      c.json({ data: await getInventory(ctx, c.req.valid('param').productId) }, 200),
    )
    .openapi(restock, async (c) => {
      const user = currentUser(c);
      const outcome = await dispatchCommand(ctx, 'inventory', 'RESTOCK', {
        userId: user.id,
        role: user.role,
        productId: c.req.valid('param').productId,
        quantity: c.req.valid('json').quantity,
      });
      return commandResponse(c, restock, outcome);
    })
    .openapi(adjust, async (c) => {
      const user = currentUser(c);
      const outcome = await dispatchCommand(ctx, 'inventory', 'ADJUST', {
        userId: user.id,
        role: user.role,
        productId: c.req.valid('param').productId,
        ...c.req.valid('json'),
      });
      return commandResponse(c, adjust, outcome);
    });
}
