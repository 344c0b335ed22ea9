import { join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppContext } from '../../context';
import { DomainError } from '../../errors/domain-error';
import { allQueues } from '../../messaging/queues';
import type { AppEnv } from '../app-env';
import { adminGate } from '../middleware/admin-gate';
import { refuseCrossSite } from '../middleware/cross-site';
import { PACKAGE_ASSETS } from './package-assets';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board over every queue, for ADMINs only (see adminGate), read-only unless BULL_BOARD_READ_ONLY
 * is false, and never changed by a cross-site request (refuseCrossSite). Mounted at BULL_BOARD_PATH.
 * Its views and static files come from the @bull-board/ui package by absolute path: the adapter's
 * own root (relative to the working directory) is replaced.
 */
export function bullBoardRoutes(ctx: AppContext) {
  const staticRoot = join(PACKAGE_ASSETS.bullBoardUi, 'dist', 'static');
  const absoluteStatic = ((options: Parameters<typeof serveStatic>[0]) =>
    serveStatic({ ...options, root: staticRoot })) as typeof serveStatic;
  const adapter = new HonoAdapter(absoluteStatic).setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    // Every queue, each order shard its own (order.0, order.1, … when ORDER_SHARDS > 1).
    queues: allQueues(ctx.queues).map(
      (queue) => new BullMQAdapter(queue, { readOnlyMode: ctx.config.bullBoardReadOnly }),
    ),
    serverAdapter: adapter,
    options: { uiBasePath: PACKAGE_ASSETS.bullBoardUi, uiConfig: { boardTitle: 'Shop queues' } },
  });
  return new Hono<AppEnv>()
    .use('*', refuseCrossSite())
    .use('*', adminGate(ctx))
    .use('*', unavailableWhenItFails(ctx))
    .route('/', adapter.registerPlugin());
}

/**
 * Bull Board answers its own 500 (with Redis's error text) when it cannot read the queues — Redis,
 * its only store, is down: the shop's 503 in the envelope instead, the cause in the log.
 */
function unavailableWhenItFails(ctx: AppContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status < 500) return;
    const cause = await c.res.text().catch(() => '');
    ctx.log.warn({ path: c.req.path, status: c.res.status, cause: cause.slice(0, 500) }, 'Bull Board failed');
    throw new DomainError('SERVICE_UNAVAILABLE');
  };
}
