import { OpenAPIHono } from '@hono/zod-openapi';
import { trimTrailingSlash } from 'hono/trailing-slash';
import type { AppContext } from './context';
import type { AppEnv } from './http/app-env';
import { withCachedReadLane, withNodeCachedReadLane } from './http/cached-read-lane';
import { withCouponIssueLane, withNodeCouponIssueLane } from './http/coupon-issue-lane';
import { handleError, handleNotFound } from './http/error-handler';
import { guardNodeLanes, type NodeListener } from './http/lane-support';
import { authenticate } from './http/middleware/auth';
import { limitBody } from './http/middleware/body-limit';
import { apiCors } from './http/middleware/cors';
import { refuseCrossSite } from './http/middleware/cross-site';
import { httpMetrics } from './http/middleware/metrics';
import { requestContext } from './http/middleware/request-context';
import { securityHeaders } from './http/middleware/security-headers';
import { withNodeOrderPlacementLane } from './http/order-placement-lane';
import { withNodeOrderReadLane } from './http/order-read-lane';
import { adminOutboxRoutes } from './http/routes/admin-outbox.routes';
import { adminStatsRoutes } from './http/routes/admin-stats.routes';
import { adminWebhookRoutes } from './http/routes/admin-webhooks.routes';
import { adminUserRoutes, authRoutes } from './http/routes/auth.routes';
import { balanceRoutes } from './http/routes/balances.routes';
import { cartRoutes } from './http/routes/cart.routes';
import { commandRoutes } from './http/routes/commands.routes';
import { adminCouponRoutes, couponRoutes } from './http/routes/coupons.routes';
import { docsRoutes } from './http/routes/docs.routes';
import { adminGatewayRoutes } from './http/routes/gateway.routes';
import { healthRoutes, type ReadinessCheck } from './http/routes/health.routes';
import { adminInventoryRoutes, inventoryRoutes } from './http/routes/inventory.routes';
import { machineRoutes } from './http/routes/machines.routes';
import { metricsRoutes } from './http/routes/metrics.routes';
import { notificationRoutes } from './http/routes/notifications.routes';
import { orderEventsRoutes } from './http/routes/order-events.routes';
import { adminOrderRoutes, orderRoutes } from './http/routes/orders.routes';
import { paymentRoutes } from './http/routes/payments.routes';
import { popularProductRoutes } from './http/routes/popular-products.routes';
import { productRoutes } from './http/routes/products.routes';
import { refundRoutes } from './http/routes/refunds.routes';
import { reviewRoutes } from './http/routes/reviews.routes';
import { withSoldOutOrderLane } from './http/sold-out-order-lane';
import { BULL_BOARD_PATH, bullBoardRoutes } from './http/ui/bull-board';
import { machinePageRoutes } from './http/ui/machine-page';
import { createMetrics } from './observability/metrics';
import { httpTracing } from './tracing/tracing';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /** Extra readiness checks (e.g. "workers") beside PostgreSQL and Redis. */
  readiness?: Record<string, ReadinessCheck>;
  /** The lanes in front of the router (default on; off gives the router's own answers, for tests). */
  lanes?: boolean;
}

/** The HTTP application: middleware, then one router per resource. No business rule lives here. */
export function createApp(ctx: AppContext, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(handleError);
  app.notFound(handleNotFound);
  const metrics = createMetrics(ctx);

  const tracing = httpTracing();
  if (tracing) app.use('*', tracing);
  app.use('*', httpMetrics(metrics));
  app.use('*', requestContext(ctx.log));
  app.use('*', securityHeaders);
  app.use('*', limitBody(MAX_BODY_BYTES));
  // GET /docs/ and the like: a 301 to the path without the slash instead of a 404 (only for a 404).
  app.use('*', trimTrailingSlash());
  if (ctx.config.corsOrigins.length > 0) app.use('/api/*', apiCors(ctx.config.corsOrigins));
  app.use('/api/*', authenticate(ctx.tokenChecker));
  app.use('/api/v1/admin/*', refuseCrossSite(ctx.config.corsOrigins));

  app.route(
    '/health',
    healthRoutes({
      database: async () => {
        await ctx.dependencies.probe('database');
      },
      redis: async () => {
        await ctx.dependencies.probe('redis');
      },
      ...options.readiness,
    }),
  );

  app.route('/api/v1/auth', authRoutes(ctx));
  app.route('/api/v1/admin/users', adminUserRoutes(ctx));
  app.route('/api/v1/balances', balanceRoutes(ctx));
  app.route('/api/v1/cart', cartRoutes(ctx));
  app.route('/api/v1/products', popularProductRoutes(ctx));
  app.route('/api/v1/products', productRoutes(ctx));
  app.route('/api/v1/products', reviewRoutes(ctx));
  app.route('/api/v1/inventory', inventoryRoutes(ctx));
  app.route('/api/v1/admin/inventory', adminInventoryRoutes(ctx));
  app.route('/api/v1/orders', orderRoutes(ctx));
  app.route('/api/v1/orders', orderEventsRoutes(ctx));
  app.route('/api/v1/admin/orders', adminOrderRoutes(ctx));
  app.route('/api/v1/notifications', notificationRoutes(ctx));
  app.route('/api/v1/admin/outbox', adminOutboxRoutes(ctx));
  app.route('/api/v1/admin/webhooks', adminWebhookRoutes(ctx));
  app.route('/api/v1/admin/stats', adminStatsRoutes(ctx));
  app.route('/api/v1/commands', commandRoutes(ctx));
  app.route('/api/v1/machines', machineRoutes());

  // Operator and developer surfaces (docs/operations.md).
  app.route('/', metricsRoutes(metrics, ctx.config.metricsToken));
  app.route('/', docsRoutes(app));
  app.route(BULL_BOARD_PATH, bullBoardRoutes(ctx));
  app.route('/machines', machinePageRoutes(ctx));
  app.route('/api/v1/coupons', couponRoutes(ctx));
  app.route('/api/v1/admin/coupons', adminCouponRoutes(ctx));
  app.route('/api/v1/payments', paymentRoutes(ctx));
  app.route('/api/v1/refunds', refundRoutes(ctx));
  app.route('/api/v1/admin/gateway', adminGatewayRoutes(ctx));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  // The hot requests answered in front of the router (each hands the rest on). While tracing, every
  // request goes through the router, so each gets its HTTP span; with CORS configured, every API
  // answer carries the CORS middleware's headers (Vary, Expose-Headers), which only the router adds.
  const lanes = !tracing && options.lanes !== false && ctx.config.corsOrigins.length === 0;
  const routed = app.fetch;
  if (lanes) {
    const couponLane = withCouponIssueLane(ctx, metrics, MAX_BODY_BYTES, routed);
    const soldOutLane = withSoldOutOrderLane(ctx, metrics, MAX_BODY_BYTES, couponLane);
    app.fetch = withCachedReadLane(ctx, metrics, soldOutLane);
  }
  /**
   * What server.ts puts in front of @hono/node-server's listener: the hot lanes on Node's own objects.
   * Each web lane has a Node counterpart there (the order placement lane answers the sold-out 409 too:
   * placeThroughGate asks the sold-out memo first; the order read lane has no web twin), so the
   * listener behind them serves `routedFetch`, the router alone (a request a Node lane handed on is not
   * looked at twice).
   */
  const nodeLanes: ((next: NodeListener) => NodeListener)[] = [
    (next) => withNodeCachedReadLane(ctx, metrics, next),
    (next) => withNodeOrderPlacementLane(ctx, metrics, MAX_BODY_BYTES, next),
    (next) => withNodeOrderReadLane(ctx, metrics, next),
    (next) => withNodeCouponIssueLane(ctx, metrics, MAX_BODY_BYTES, next),
  ];
  // The first lane sees every request first; each hands what is not its own to the next.
  const nodeFront = (listener: NodeListener): NodeListener =>
    lanes
      ? guardNodeLanes(
          nodeLanes.reduceRight((next, lane) => lane(next), listener),
          ctx.log,
        )
      : listener;
  return Object.assign(app, { nodeFront, routedFetch: routed });
}

export type App = ReturnType<typeof createApp>;
