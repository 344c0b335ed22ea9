import { createRoute } from '@hono/zod-openapi';
import {
  changeProductStatus,
  createProduct,
  getProductJson,
  updateProduct,
} from '../../catalog/product.service';
import { searchProducts } from '../../catalog/product-search';
import type { AppContext } from '../../context';
import { dataEnvelope, pageEnvelope, pageMeta } from '../envelope';
import { currentUser, requireRole } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { preparedJson } from '../prepared-response';
import { idParam } from '../schemas/common';
import {
  NewProductBody,
  ProductChangesBody,
  ProductListQuery,
  ProductSchema,
  ProductStatusBody,
} from '../schemas/product.schemas';

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['Catalog'],
  summary: 'Search the catalog',
  request: { query: ProductListQuery },
  responses: { 200: jsonContent(pageEnvelope(ProductSchema), 'A page of products'), ...errorResponses() },
});

const getOne = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Catalog'],
  summary: 'One product with its stock and rating (cached)',
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(ProductSchema), 'The product'),
    ...errorResponses('PRODUCT_NOT_FOUND'),
  },
});

const create = createRoute({
  method: 'post',
  path: '/',
  tags: ['Catalog'],
  summary: 'List a new product with its initial stock',
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: jsonBody(NewProductBody),
  responses: {
    201: jsonContent(dataEnvelope(ProductSchema), 'The new product'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'SERVICE_UNAVAILABLE'),
  },
});

const update = createRoute({
  method: 'patch',
  path: '/{id}',
  tags: ['Catalog'],
  summary: "Change a product's name, description, price, category or brand",
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: { params: idParam, ...jsonBody(ProductChangesBody) },
  responses: {
    200: jsonContent(dataEnvelope(ProductSchema), 'The changed product'),
    ...errorResponses(
      'UNAUTHORIZED',
      'FORBIDDEN',
      'PRODUCT_NOT_FOUND',
      'PAYLOAD_TOO_LARGE',
      'SERVICE_UNAVAILABLE',
    ),
  },
});

const setStatus = createRoute({
  method: 'patch',
  path: '/{id}/status',
  tags: ['Catalog'],
  summary: 'Put a product on sale, mark it sold out or discontinue it',
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: { params: idParam, ...jsonBody(ProductStatusBody) },
  responses: {
    200: jsonContent(dataEnvelope(ProductSchema), 'The product with its new status'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'PRODUCT_NOT_FOUND', 'SERVICE_UNAVAILABLE'),
  },
});

/**
 * Mounted at /products. `/{id}` only accepts UUIDs, so a later `/popular` route must be registered
 * before this router (or before `getOne` in it), or `/{id}` would answer it with 400.
 */
export function productRoutes(ctx: AppContext) {
  return (
    createRouter()
      .openapi(list, async (c) => {
        const search = c.req.valid('query');
        const { items, totalElements } = await searchProducts(ctx, search);
        return c.json({ data: items, meta: pageMeta(search, totalElements) }, 200);
      })
      // The hot read: the cached JSON goes out as it is, in a prepared answer.
      .openapi(getOne, async (c) =>
        preparedJson(c, 200, `{"data":${await getProductJson(ctx, c.req.valid('param').id)}}`),
      )
      .openapi(create, async (c) =>
        c.json({ data: await createProduct(ctx, currentUser(c), c.req.valid('json')) }, 201),
      )
      .openapi(update, async (c) => {
        const product = await updateProduct(
          ctx,
          currentUser(c),
          c.req.valid('param').id,
          c.req.valid('json'),
        );
        return c.json({ data: product }, 200);
      })
      .openapi(setStatus, async (c) => {
        const { status } = c.req.valid('json');
        const product = await changeProductStatus(ctx, currentUser(c), c.req.valid('param').id, status);
        return c.json({ data: product }, 200);
      })
  );
}
