import { Hono } from 'hono';
import type { AppEnv } from '../app-env';

export type ReadinessCheck = () => Promise<void>;

/**
 * `/health/live`: the process answers. `/health/ready`: every dependency answers within a second;
 * 503 with the failing ones otherwise, so a load balancer stops sending traffic.
 */
export function healthRoutes(checks: Record<string, ReadinessCheck>) {
  return new Hono<AppEnv>()
    .get('/live', (c) => c.json({ data: { status: 'UP' } }))
    .get('/ready', async (c) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), 1000);
            return [name, 'UP'] as const;
          } catch (error) {
            c.get('log').warn({ check: name, err: String(error) }, 'readiness check failed');
            return [name, 'DOWN'] as const;
          }
        }),
      );
      const ready = results.every(([, state]) => state === 'UP');
      const body = { status: ready ? 'UP' : 'DOWN', checks: Object.fromEntries(results) };
      return ready
        ? c.json({ data: body }, 200)
        : c.json({ error: 'SERVICE_UNAVAILABLE', message: 'Not ready', details: [body] }, 503);
    });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
