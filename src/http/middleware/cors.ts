import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/**
 * CORS for a storefront served from another origin: only the origins listed in CORS_ORIGINS (none by
 * default, and then no CORS header is ever sent). Bearer tokens travel in the Authorization header,
 * never in cookies, so credentials mode stays off.
 */
export function apiCors(origins: readonly string[]): MiddlewareHandler {
  return cors({
    origin: [...origins],
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Accept-Language', 'X-Request-Id'],
    exposeHeaders: ['Location', 'Retry-After', 'X-Request-Id'],
    maxAge: 600,
  });
}
