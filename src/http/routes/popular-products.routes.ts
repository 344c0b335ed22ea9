import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { popularProducts } from '../../stats/popular-products';
import { dataEnvelope } from '../envelope';
import { createRouter, errorResponses, jsonContent } from '../openapi';
import { PopularProductSchema, PopularQuery } from '../schemas/stats.schemas';

const popular = createRoute({
  method: 'get',
  path: '/popular',
  tags: ['Catalog'],
  summary: 'Best sellers: units sold in PAID/CONFIRMED orders of the last `days` (cached)',
  request: { query: PopularQuery },
  responses: {
    200: jsonContent(dataEnvelope(z.array(PopularProductSchema)), 'Most units sold first'),
    ...errorResponses(),
  },
});

/** Mounted at /products *before* the products router, whose `/{id}` would refuse "popular" as a uuid. */
export function popularProductRoutes(ctx: AppContext) {
  return createRouter().openapi(popular, async (c) => {
    const { days, limit } = c.req.valid('query');
    return c.json({ data: await popularProducts(ctx, days, limit) }, 200);
  });
}
