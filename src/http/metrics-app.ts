import { Hono } from 'hono';
import type { AppContext } from '../context';
import { createMetrics } from '../observability/metrics';
import { metricsRoutes } from './routes/metrics.routes';

/**
 * `/metrics` alone, for a process that serves no API (`npm run worker`): its job durations and
 * gateway latencies exist only in that process, so it must be scraped too —
 * `serve({ fetch: metricsApp(ctx).fetch, port })`.
 */
export function metricsApp(ctx: AppContext) {
  return new Hono().route('/', metricsRoutes(createMetrics(ctx), ctx.config.metricsToken));
}
