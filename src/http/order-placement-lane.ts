import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context';
import type { Metrics } from '../observability/metrics';
import { placeThroughGate } from '../orders/gated-placement';
import { commandAnswer, refusalJson } from './command-response';
import {
  isJsonContentType,
  type LaneAnswer,
  LaneAnswers,
  type LaneRequest,
  laneErrorAnswer,
  type NodeListener,
  nodeBodyWithin,
  nodeLaneRequest,
  nodeUserAndBody,
  withRawBody,
} from './lane-support';
import { ORDERS_PATH, ORDERS_ROUTE, type PlaceOrder, placeOrderReader } from './place-order-body';

/**
 * `POST /api/v1/orders` on Node's own request, in front of @hono/node-server's listener: a placement
 * without Idempotency-Key, with a valid bearer token and a JSON body within the limit that the route's
 * schema accepts, is placed as the route places it (placeThroughGate) and answered with the route's
 * answer — the order (201), the receipt to poll (202, Location), the sold-out refusal (409) or whatever
 * placing throws, as the error handler renders it — with the router's request id, security headers,
 * histogram series and access line. Anything else goes to the router, with the body this lane read as
 * `rawBody`: no or a bad token (401), a body the schema refuses (400), a keyed request (its receipt
 * replays), a query string, a body of unknown length or over the limit.
 */
export function withNodeOrderPlacementLane(
  ctx: AppContext,
  metrics: Metrics,
  maxBodyBytes: number,
  next: NodeListener,
): NodeListener {
  const answers = new LaneAnswers(ctx, metrics, 'POST', ORDERS_ROUTE, false);
  const orderOf = placeOrderReader();

  const place = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const read = await nodeUserAndBody(ctx, req, res, next);
    if (!read) return;
    const order = orderOf(read.body);
    if (!order) return next(withRawBody(req, read.body), res);
    const laneReq = nodeLaneRequest(req, ORDERS_PATH, read.user, started);
    answers.write(res, laneReq, await placementAnswer(ctx, laneReq, order));
  };

  return (req, res) => {
    const headers = req.headers;
    if (
      req.method !== 'POST' ||
      req.url !== ORDERS_PATH ||
      headers.authorization === undefined ||
      headers['idempotency-key'] !== undefined ||
      !isJsonContentType(headers['content-type']) ||
      !nodeBodyWithin(req, maxBodyBytes)
    ) {
      return next(req, res);
    }
    return place(req, res);
  };
}

/** The route's answer to one placement. */
async function placementAnswer(ctx: AppContext, req: LaneRequest, order: PlaceOrder): Promise<LaneAnswer> {
  try {
    const outcome = await placeThroughGate(
      ctx,
      { userId: req.user.id, role: req.user.role, ...order },
      undefined,
    );
    if (outcome.state === 'sold-out') return refusalJson('OUT_OF_STOCK', req.lang, outcome.details);
    return commandAnswer(outcome);
  } catch (error) {
    return laneErrorAnswer(ctx, req, error);
  }
}
