import { z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import type { AppContext } from '../../context';
import { orderMachineView } from '../../orders/order-machine-view';
import type { AppEnv } from '../app-env';
import { adminGate } from '../middleware/admin-gate';
import { scriptNonce } from '../middleware/security-headers';
import { validationError } from '../openapi';
import { orderMachinePage } from './order-machine.page';
import { PACKAGE_ASSETS, serveFile } from './package-assets';

const PageQuery = z.object({ orderId: z.uuid().optional() });

/**
 * Mounted at /machines: the order-machine visualizer (`/machines/order?orderId=`) and its mermaid
 * bundle. The page shows live order counts and any order's journey, so it is for ADMINs (same gate
 * as Bull Board); the bare definition is public at /api/v1/machines/order.
 */
export function machinePageRoutes(ctx: AppContext) {
  return new Hono<AppEnv>()
    .get('/assets/mermaid.min.js', serveFile(PACKAGE_ASSETS.mermaid))
    .get('/order', adminGate(ctx), async (c) => {
      const query = PageQuery.safeParse(c.req.query());
      if (!query.success) throw validationError(query.error, 'query');
      return c.html(orderMachinePage(await orderMachineView(ctx, query.data.orderId), scriptNonce(c)));
    });
}
