import type { MiddlewareHandler } from 'hono';

/** Answers that carry tokens or account data must not be kept by browsers or proxies. */
export const noStore: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('Cache-Control', 'no-store');
};
