import { soldOutMemo } from '../catalog/sold-out-memo';
import type { AppContext } from '../context';
import type { Metrics } from '../observability/metrics';
import { knownSoldOut } from '../orders/gated-placement';
import { refusalJson } from './command-response';
import {
  type Fetch,
  hasJsonContentType,
  LaneAnswers,
  laneMayAnswer,
  laneRequest,
  laneUser,
  pathWithoutQuery,
  withBodyAgain,
} from './lane-support';
import { ORDERS_PATH, ORDERS_ROUTE, placeOrderReader } from './place-order-body';

/**
 * The sold-out answer of a flash sale, in front of the router: once the stock gate has refused a product,
 * thousands of buyers a second order it again, and each 409 through the router's middleware chain cost
 * more than the refusal itself. A `POST /api/v1/orders` of explicit items, without Idempotency-Key, with a
 * valid token and a body the router's schema accepts, whose lines the sold-out memo already knows to be
 * short (knownSoldOut, which the route itself asks first) is answered 409 OUT_OF_STOCK here, with the
 * router's body, headers, histogram series and access line. Anything else is the router's: no memo
 * entry (the lane then reads nothing), a missing or bad token (401), an invalid body (400), a keyed
 * request (its receipt replays), a cart order, a product the memo does not know to be short (the route
 * asks the gate, which refreshes the memo).
 */
export function withSoldOutOrderLane<F extends Fetch>(
  ctx: AppContext,
  metrics: Metrics,
  maxBodyBytes: number,
  fetch: F,
): F {
  if (!ctx.config.stockGate) return fetch;
  const memo = soldOutMemo(ctx);
  const limits = { maxBodyBytes, readsBody: true };
  const answers = new LaneAnswers(ctx, metrics, 'POST', ORDERS_ROUTE, false);
  const orderOf = placeOrderReader();

  const answerIfSoldOut = async (request: Request, rest: never[]) => {
    const started = performance.now();
    const user = await laneUser(ctx, request.headers.get('authorization'));
    if (!user) return fetch(request, ...rest);
    const body = await request.arrayBuffer();
    const items = orderOf(body)?.items;
    const known = items && knownSoldOut(ctx, items, undefined);
    if (!known) return fetch(withBodyAgain(request, body), ...rest);
    const req = laneRequest(request, ORDERS_PATH, user, started);
    const refusal = refusalJson('OUT_OF_STOCK', req.lang, known.details);
    return answers.answer(req, refusal);
  };

  const lane = (request: Request, ...rest: never[]) => {
    if (
      request.method !== 'POST' ||
      !memo.knowsAny(Date.now()) ||
      pathWithoutQuery(request.url) !== ORDERS_PATH ||
      request.headers.get('idempotency-key') !== null ||
      !hasJsonContentType(request.headers) ||
      !laneMayAnswer(request, rest[0], limits)
    ) {
      return fetch(request, ...rest);
    }
    return answerIfSoldOut(request, rest);
  };
  return lane as F;
}
