import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { salesReport } from '../../stats/sales-report';
import { dataEnvelope } from '../envelope';
import { requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonContent } from '../openapi';
import { SalesReportQuery, SalesRowSchema } from '../schemas/stats.schemas';

const sales = createRoute({
  method: 'get',
  path: '/sales',
  tags: ['Admin'],
  summary: 'Sales of PAID/CONFIRMED orders by business day or by category',
  description:
    'Days are business days in SHOP_TIMEZONE, by payment time. By day every day of the range is listed ' +
    '(zeros included); by category only categories that sold, highest revenue first. Revenue is the ' +
    'order lines’ total before coupon discounts and refunds.',
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { query: SalesReportQuery },
  responses: {
    200: jsonContent(dataEnvelope(z.array(SalesRowSchema)), 'One row per day or category'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN'),
  },
});

/** Mounted at /admin/stats. */
export function adminStatsRoutes(ctx: AppContext) {
  return createRouter().openapi(sales, async (c) =>
    c.json({ data: await salesReport(ctx, c.req.valid('query')) }, 200),
  );
}
