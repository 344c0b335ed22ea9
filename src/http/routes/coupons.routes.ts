import { createRoute } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import {
  changeCouponStatus,
  createCoupon,
  getCoupon,
  listCoupons,
  resyncCouponGate,
} from '../../coupons/coupon.service';
import { issueCoupon, listMyCoupons } from '../../coupons/coupon-issue';
import { prepareRefusals } from '../coupon-refusals';
import { dataEnvelope, type ErrorEnvelope, errorEnvelope, pageEnvelope, pageMeta } from '../envelope';
import { currentUser, requireRole, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { preparedJson } from '../prepared-response';
import { idParam } from '../schemas/common';
import {
  CouponGateSchema,
  CouponListQuery,
  CouponSchema,
  CouponStatusBody,
  MyCouponsQuery,
  NewCouponBody,
  UserCouponSchema,
} from '../schemas/coupon.schemas';

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['Coupons'],
  summary: 'Coupons, newest first, with what remains of each',
  request: { query: CouponListQuery },
  responses: { 200: jsonContent(pageEnvelope(CouponSchema), 'A page of coupons'), ...errorResponses() },
});

const mine = createRoute({
  method: 'get',
  path: '/mine',
  tags: ['Coupons'],
  summary: "The caller's coupons, newest first",
  security: bearerSecurity,
  middleware: [requireUser] as const,
  request: { query: MyCouponsQuery },
  responses: {
    200: jsonContent(dataEnvelope(UserCouponSchema.array()), 'The user coupons'),
    ...errorResponses('UNAUTHORIZED'),
  },
});

const getOne = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Coupons'],
  summary: 'One coupon with what remains of it',
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(CouponSchema), 'The coupon'),
    ...errorResponses('COUPON_NOT_FOUND'),
  },
});

const create = createRoute({
  method: 'post',
  path: '/',
  tags: ['Coupons'],
  summary: 'Start a coupon campaign (ACTIVE when validFrom has come, CREATED before)',
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: jsonBody(NewCouponBody),
  responses: {
    201: jsonContent(dataEnvelope(CouponSchema), 'The new coupon'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'DUPLICATE_COUPON_CODE', 'SERVICE_UNAVAILABLE'),
  },
});

const setStatus = createRoute({
  method: 'patch',
  path: '/{id}/status',
  tags: ['Coupons'],
  summary: 'Suspend, resume or cancel a coupon (its creator or an admin)',
  security: bearerSecurity,
  middleware: [requireRole('SELLER', 'ADMIN')] as const,
  request: { params: idParam, ...jsonBody(CouponStatusBody) },
  responses: {
    200: jsonContent(dataEnvelope(CouponSchema), 'The coupon with its new status'),
    ...errorResponses(
      'UNAUTHORIZED',
      'FORBIDDEN',
      'COUPON_NOT_FOUND',
      'INVALID_COUPON_TRANSITION',
      'SERVICE_UNAVAILABLE',
    ),
  },
});

const issue = createRoute({
  method: 'post',
  path: '/{id}/issue',
  tags: ['Coupons'],
  summary: 'Claim one coupon, first come first served',
  security: bearerSecurity,
  middleware: [requireRole('BUYER')] as const,
  request: { params: idParam },
  responses: {
    201: jsonContent(dataEnvelope(UserCouponSchema), 'The user coupon, durable in the database'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'COUPON_NOT_FOUND', 'SERVICE_UNAVAILABLE'),
    // The gate's refusals, typed: the handler answers them itself (prepared bodies), not by throwing.
    400: jsonContent(errorEnvelope, 'VALIDATION_ERROR, COUPON_NOT_APPLICABLE'),
    409: jsonContent(errorEnvelope, 'COUPON_SOLD_OUT, COUPON_ALREADY_ISSUED'),
    429: jsonContent(errorEnvelope, 'RATE_LIMITED'),
  },
});

const resync = createRoute({
  method: 'post',
  path: '/{id}/resync',
  tags: ['Admin'],
  summary: "Rebuild a coupon's Redis gate from PostgreSQL",
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(CouponGateSchema), 'The gate as rebuilt'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'COUPON_NOT_FOUND', 'SERVICE_UNAVAILABLE'),
  },
});

/** Mounted at /coupons. `/mine` is registered before `/{id}`, which only accepts UUIDs. */
export function couponRoutes(ctx: AppContext) {
  const refusals = prepareRefusals(ctx);
  return createRouter()
    .openapi(list, async (c) => {
      const search = c.req.valid('query');
      const { items, totalElements } = await listCoupons(ctx, search);
      return c.json({ data: items, meta: pageMeta(search, totalElements) }, 200);
    })
    .openapi(mine, async (c) => {
      const coupons = await listMyCoupons(ctx, currentUser(c).id, c.req.valid('query').status);
      return c.json({ data: coupons }, 200);
    })
    .openapi(getOne, async (c) => c.json({ data: await getCoupon(ctx, c.req.valid('param').id) }, 200))
    .openapi(create, async (c) =>
      c.json({ data: await createCoupon(ctx, currentUser(c), c.req.valid('json')) }, 201),
    )
    .openapi(setStatus, async (c) => {
      const { status } = c.req.valid('json');
      const coupon = await changeCouponStatus(ctx, currentUser(c), c.req.valid('param').id, status);
      return c.json({ data: coupon }, 200);
    })
    .openapi(issue, async (c) => {
      const outcome = await issueCoupon(ctx, currentUser(c).id, c.req.valid('param').id);
      if (outcome.issued) return c.json({ data: outcome.issued }, 201);
      const { status, body } = refusals(outcome.refusal, c.get('lang'));
      switch (status) {
        case 400:
          return preparedJson<ErrorEnvelope, 400>(c, status, body);
        case 409:
          return preparedJson<ErrorEnvelope, 409>(c, status, body);
        case 429:
          return preparedJson<ErrorEnvelope, 429>(c, status, body);
      }
    });
}

/** Mounted at /admin/coupons. */
export function adminCouponRoutes(ctx: AppContext) {
  return createRouter().openapi(resync, async (c) =>
    c.json({ data: await resyncCouponGate(ctx, c.req.valid('param').id) }, 200),
  );
}
