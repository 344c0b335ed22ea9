import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Fetch, NodeListener } from './lane-support';

/** What the HTTP server needs of the app (createApp's answer). */
export interface ServableApp {
  fetch: Fetch;
  /** The app's lanes on Node's own request, in front of @hono/node-server's listener. */
  nodeFront: (listener: NodeListener) => NodeListener;
  /** What the listener behind nodeFront serves (the router without the web lanes); `fetch` when absent. */
  routedFetch?: Fetch;
}

/**
 * The shop's HTTP server: @hono/node-server's listener for the app (as its serve() makes it), behind
 * the lanes that answer on Node's own request and response.
 */
export function createHttpServer(app: ServableApp): Server {
  const listener = getRequestListener((app.routedFetch ?? app.fetch) as never, {
    hostname: '0.0.0.0',
  }) as NodeListener;
  return createServer(app.nodeFront(listener));
}
