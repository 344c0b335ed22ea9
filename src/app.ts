import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { AppContext } from './context';
import { DomainError } from './errors/domain-error';
import type { AppEnv } from './http/app-env';
import { handleError, handleNotFound } from './http/error-handler';
import { authenticate } from './http/middleware/auth';
import { requestContext } from './http/middleware/request-context';
import { adminUserRoutes, authRoutes } from './http/routes/auth.routes';
import { balanceRoutes } from './http/routes/balances.routes';
import { cartRoutes } from './http/routes/cart.routes';
import { commandRoutes } from './http/routes/commands.routes';
import { adminGatewayRoutes } from './http/routes/gateway.routes';
import { healthRoutes, type ReadinessCheck } from './http/routes/health.routes';
import { adminInventoryRoutes, inventoryRoutes } from './http/routes/inventory.routes';
import { orderRoutes } from './http/routes/orders.routes';
import { paymentRoutes } from './http/routes/payments.routes';
import { productRoutes } from './http/routes/products.routes';
import { refundRoutes } from './http/routes/refunds.routes';
import { reviewRoutes } from './http/routes/reviews.routes';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /** Extra readiness checks (e.g. "workers") beside PostgreSQL and Redis. */
  readiness?: Record<string, ReadinessCheck>;
}

/** The HTTP application: middleware, then one router per resource. No business rule lives here. */
export function createApp(ctx: AppContext, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(handleError);
  app.notFound(handleNotFound);

  app.use('*', requestContext(ctx.log));
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new DomainError('PAYLOAD_TOO_LARGE');
      },
    }),
  );
  app.use('/api/*', authenticate(ctx.tokens));

  app.route(
    '/health',
    healthRoutes({
      database: async () => {
        await ctx.orm.em.getConnection().execute('select 1');
      },
      redis: async () => {
        await ctx.redis.ping();
      },
      ...options.readiness,
    }),
  );

  app.route('/api/v1/auth', authRoutes(ctx));
  app.route('/api/v1/admin/users', adminUserRoutes(ctx));
  app.route('/api/v1/balances', balanceRoutes(ctx));
  app.route('/api/v1/cart', cartRoutes(ctx));
  app.route('/api/v1/products', productRoutes(ctx));
  app.route('/api/v1/products', reviewRoutes(ctx));
  app.route('/api/v1/inventory', inventoryRoutes(ctx));
  app.route('/api/v1/admin/inventory', adminInventoryRoutes(ctx));
  app.route('/api/v1/orders', orderRoutes(ctx));
  app.route('/api/v1/commands', commandRoutes(ctx));
  app.route('/api/v1/payments', paymentRoutes(ctx));
  app.route('/api/v1/refunds', refundRoutes(ctx));
  app.route('/api/v1/admin/gateway', adminGatewayRoutes(ctx));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  return app;
}

export type App = ReturnType<typeof createApp>;
