import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Metrics } from '../../observability/metrics';
import type { AppEnv } from '../app-env';

/** Label of requests no route answered (404s of unknown paths): one series, not one per URL. */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * Times every request into the HTTP histogram, labelled by the route *template* that answered
 * (`/api/v1/products/:id`), never the raw URL, so the number of series stays bounded.
 */
export function httpMetrics(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      metrics.httpDuration.observe(
        { method: c.req.method, route: routeTemplate(c), status: String(c.res.status) },
        (performance.now() - started) / 1000,
      );
    }
  };
}

/** The last matched route that is not middleware (`app.use` registers those under ALL). */
function routeTemplate(c: Parameters<MiddlewareHandler>[0]): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    if (routes[i]!.method !== 'ALL') return routes[i]!.path;
  }
  return UNMATCHED_ROUTE;
}
