import { createRoute, z } from '@hono/zod-openapi';
import { addReview, listReviews, REVIEW_SORT_FIELDS } from '../../catalog/reviews.service';
import type { AppContext } from '../../context';
import { text } from '../../validation/text';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { currentUser, requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam, pagingQuery, sortByQuery } from '../schemas/common';

const ReviewSchema = z
  .object({
    id: z.uuid(),
    productId: z.uuid(),
    userId: z.uuid(),
    orderItemId: z.uuid(),
    rating: z.number().int(),
    comment: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Review');

const ReviewBody = z
  .object({ rating: z.number().int().min(1).max(5), comment: text().trim().max(2000).optional() })
  .openapi('NewReview');

const create = createRoute({
  method: 'post',
  path: '/{id}/reviews',
  tags: ['Catalog'],
  summary: 'Review a product you bought (its order PAID or CONFIRMED), once per purchase',
  security: bearerSecurity,
  middleware: [requireRole('BUYER')] as const,
  request: { params: idParam, ...jsonBody(ReviewBody) },
  responses: {
    201: jsonContent(dataEnvelope(ReviewSchema), 'The review'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PRODUCT_NOT_FOUND'),
  },
});

const list = createRoute({
  method: 'get',
  path: '/{id}/reviews',
  tags: ['Catalog'],
  summary: "A product's reviews, newest first",
  request: { params: idParam, query: z.object({ sort: sortByQuery(REVIEW_SORT_FIELDS), ...pagingQuery }) },
  responses: {
    200: jsonContent(pageEnvelope(ReviewSchema), 'A page of reviews'),
    ...errorResponses('PRODUCT_NOT_FOUND'),
  },
});

/** Mounted at /products beside the product routes. */
export function reviewRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(create, async (c) =>
      c.json(
        { data: await addReview(ctx, currentUser(c), c.req.valid('param').id, c.req.valid('json')) },
        201,
      ),
    )
    .openapi(list, async (c) => {
      const { sort, page, size } = c.req.valid('query');
      return c.json(await listReviews(ctx, c.req.valid('param').id, { sort, page, size }), 200);
    });
}
