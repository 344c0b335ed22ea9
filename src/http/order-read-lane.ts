import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context';
import type { Metrics } from '../observability/metrics';
import { getOrder } from '../orders/order-queries';
import {
  type LaneAnswer,
  LaneAnswers,
  type LaneRequest,
  laneErrorAnswer,
  laneUser,
  type NodeListener,
  nodeLaneRequest,
  nodeRequestHasNoBody,
  uuidAfter,
} from './lane-support';

const ORDER_PATH = '/api/v1/orders/';
/** The label the router's own GET /orders/{id} gets in the HTTP histogram (one series for both). */
const ORDER_ROUTE = '/api/v1/orders/:id';

/**
 * `GET /api/v1/orders/{id}` on Node's own request, in front of @hono/node-server's listener: the
 * request a storefront repeats while it waits for an order to be paid (several per checkout). With a
 * bearer token the token checker accepts, the order is read as the route reads it (getOrder: its
 * owner or an admin, else 404) and answered with the route's answer and the router's request id,
 * security headers, histogram series and access line. Anything else goes to the router: no or a bad
 * token (401), another path or a query string, an id that is not a UUID (400), a body.
 */
export function withNodeOrderReadLane(ctx: AppContext, metrics: Metrics, next: NodeListener): NodeListener {
  const answers = new LaneAnswers(ctx, metrics, 'GET', ORDER_ROUTE, false);

  const read = async (req: IncomingMessage, res: ServerResponse, orderId: string, started: number) => {
    const user = await laneUser(ctx, req.headers.authorization);
    if (!user) return next(req, res);
    const laneReq = nodeLaneRequest(req, ORDER_PATH + orderId, user, started);
    answers.write(res, laneReq, await orderAnswer(ctx, laneReq, orderId));
  };

  return (req, res) => {
    const orderId =
      req.method === 'GET' && req.headers.authorization !== undefined && nodeRequestHasNoBody(req)
        ? uuidAfter(ORDER_PATH, req.url ?? '')
        : undefined;
    if (orderId === undefined) return next(req, res);
    return read(req, res, orderId, performance.now());
  };
}

/** The route's answer: the order in the data envelope, or the error handler's refusal. */
async function orderAnswer(ctx: AppContext, req: LaneRequest, orderId: string): Promise<LaneAnswer> {
  try {
    return { status: 200, body: JSON.stringify({ data: await getOrder(ctx, req.user, orderId) }) };
  } catch (error) {
    return laneErrorAnswer(ctx, req, error);
  }
}
