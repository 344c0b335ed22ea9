import { cachedProductJsonIfFresh } from '../catalog/product-cache';
import type { AppContext } from '../context';
import type { Metrics } from '../observability/metrics';
import {
  type Fetch,
  LaneAnswers,
  laneRequest,
  type NodeListener,
  nodeLaneRequest,
  nodeRequestHasNoBody,
  pathWithoutQuery,
  uuidAfter,
} from './lane-support';

const PRODUCT_PATH = '/api/v1/products/';
/** The label the router's own GET /products/{id} gets in the HTTP histogram (one series for both). */
export const PRODUCT_ROUTE = '/api/v1/products/:id';

/**
 * The product id of an anonymous `GET /api/v1/products/{uuid}` without a query string, or undefined.
 * Anything else — another path or method, a token to check — is the router's.
 */
function anonymousProductRead(request: Request): string | undefined {
  if (request.method !== 'GET') return undefined;
  const path = pathWithoutQuery(request.url);
  if (path === undefined) return undefined;
  const id = productIdOfPath(path);
  if (id === undefined || request.headers.get('authorization') !== null) return undefined;
  return id;
}

const productIdOfPath = (path: string) => uuidAfter(PRODUCT_PATH, path);

/**
 * The cached product read, answered in front of the router: with 1,200 products a storefront's
 * hottest request is an anonymous GET of one whose view Redis holds, and the router's middleware
 * chain cost twice what the read itself costs. The lane gives exactly the router's answer for it —
 * the cached JSON, the request id, the security headers (preparedJsonResponse), the same histogram
 * series, the access line — and hands everything else to the router, misses included (the router
 * then reads PostgreSQL, answers 404 for an unknown id, and so on). createApp leaves it out while
 * tracing is on: a lane hit would have no HTTP span.
 */
export function withCachedReadLane<F extends Fetch>(ctx: AppContext, metrics: Metrics, fetch: F): F {
  const answers = new LaneAnswers(ctx, metrics, 'GET', PRODUCT_ROUTE, true);
  const lane = (request: Request, ...rest: never[]) => {
    const productId = anonymousProductRead(request);
    if (productId === undefined) return fetch(request, ...rest);
    const started = performance.now();
    return cachedProductJsonIfFresh(ctx, productId).then((json) => {
      if (json === undefined) return fetch(request, ...rest);
      const req = laneRequest(request, PRODUCT_PATH + productId, undefined, started);
      return answers.answer(req, { status: 200, body: `{"data":${json}}` });
    });
  };
  return lane as F;
}

/**
 * The same lane one step earlier, on Node's own request and response (server.ts puts it in front of
 * @hono/node-server's listener): a hit is written without a web Request or Response being built, which
 * on this route cost as much as the rest of the answer. The same answer (writePreparedJson), the same
 * histogram series and access line; a request with a body, a miss or anything else goes to `next`.
 */
export function withNodeCachedReadLane(ctx: AppContext, metrics: Metrics, next: NodeListener): NodeListener {
  const answers = new LaneAnswers(ctx, metrics, 'GET', PRODUCT_ROUTE, true);
  return (req, res) => {
    const productId =
      req.method === 'GET' && req.headers.authorization === undefined && nodeRequestHasNoBody(req)
        ? productIdOfPath(req.url ?? '')
        : undefined;
    if (productId === undefined) return next(req, res);
    const started = performance.now();
    return cachedProductJsonIfFresh(ctx, productId).then((json) => {
      if (json === undefined) return next(req, res);
      const lane = nodeLaneRequest(req, PRODUCT_PATH + productId, undefined, started);
      answers.write(res, lane, { status: 200, body: `{"data":${json}}` });
    });
  };
}
