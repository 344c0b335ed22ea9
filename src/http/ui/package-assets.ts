import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { MiddlewareHandler } from 'hono';

const require = createRequire(import.meta.url);

/**
 * Files the operator pages serve from installed packages, found through Node's module resolution
 * from this file — never the working directory, never a CDN — so the pages work offline and from
 * any directory the process was started in.
 */
export const PACKAGE_ASSETS = {
  /** Scalar's self-contained API reference bundle (not in the package's exports map: found beside its entry). */
  scalar: join(dirname(require.resolve('@scalar/api-reference')), 'browser', 'standalone.js'),
  mermaid: require.resolve('mermaid/dist/mermaid.min.js'),
  /** Bull Board's UI package: views in dist/, static files in dist/static. */
  bullBoardUi: dirname(require.resolve('@bull-board/ui/package.json')),
} as const;

/** Serves one file by absolute path; browsers may keep it a day (it changes only on upgrade). */
export function serveFile(path: string): MiddlewareHandler {
  const serve = serveStatic({ path });
  return async (c, next) => {
    c.header('Cache-Control', 'public, max-age=86400');
    return serve(c, next);
  };
}
