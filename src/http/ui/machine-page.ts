import { z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import type { AppContext } from '../../context';
import { orderMachineDiagram, orderMachineView } from '../../orders/order-machine-view';
import type { AppEnv } from '../app-env';
import { adminGate } from '../middleware/admin-gate';
import { scriptNonce } from '../middleware/security-headers';
import { validationError } from '../openapi';
import { orderMachinePage } from './order-machine.page';
import { PACKAGE_ASSETS, serveFile } from './package-assets';

const PageQuery = z.object({ orderId: z.uuid().optional() });

/**
 * Mounted at /machines: the order-machine visualizer and its mermaid bundle. `/machines/order` is the
 * machine alone, public like /docs; `/machines/order?orderId=` adds live order counts and that order's
 * journey, so it is for ADMINs (same gate as Bull Board).
 */
export function machinePageRoutes(ctx: AppContext) {
  return (
    new Hono<AppEnv>()
      .get('/assets/mermaid.min.js', serveFile(PACKAGE_ASSETS.mermaid))
      // Without an order it is the developers' diagram, public like /docs; an order's path is for ADMINs.
      .get('/order', async (c, next) => {
        if (c.req.query('orderId') === undefined)
          return c.html(orderMachinePage(orderMachineDiagram(), scriptNonce(c)));
        await next();
      })
      .get('/order', adminGate(ctx), async (c) => {
        const query = PageQuery.safeParse(c.req.query());
        if (!query.success) throw validationError(query.error, 'query');
        return c.html(orderMachinePage(await orderMachineView(ctx, query.data.orderId), scriptNonce(c)));
      })
  );
}
