import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from '@hono/zod-openapi';
import { soldOutMemo } from '../catalog/sold-out-memo';
import type { AppContext } from '../context';
import type { Metrics } from '../observability/metrics';
import { knownSoldOut } from '../orders/gated-placement';
import { refusalJson } from './command-response';
import {
  type Fetch,
  hasJsonContentType,
  isJsonContentType,
  LaneAnswers,
  laneMayAnswer,
  laneRequest,
  laneUser,
  type NodeListener,
  nodeBodyWithin,
  nodeLaneRequest,
  nodeUserAndBody,
  pathWithoutQuery,
  withBodyAgain,
  withRawBody,
} from './lane-support';
import { PlaceOrderBody } from './schemas/order.schemas';

export const ORDERS_PATH = '/api/v1/orders';
/** The label the router's POST /orders gets in the HTTP histogram (one series for both). */
export const ORDERS_ROUTE = '/api/v1/orders';

const utf8 = new TextDecoder();

type ExplicitItems = NonNullable<z.infer<typeof PlaceOrderBody>['items']>;

/**
 * The explicit items of a valid order body, or undefined (invalid JSON or body, a cart order). A flash
 * sale's buyers send the same few bodies, so the items of the last ones read are kept by their text
 * (frozen: knownSoldOut only reads them) and the JSON parse and the route's schema run once per body.
 */
function explicitItemsOf(): (body: ArrayBuffer | Uint8Array) => ExplicitItems | undefined {
  const read = new Map<string, ExplicitItems | undefined>();
  return (body) => {
    const text = utf8.decode(body);
    if (read.has(text)) return read.get(text);
    const items = parseItems(text);
    if (read.size >= READ_BODIES_KEPT) read.clear();
    if (text.length <= MAX_KEPT_BODY_LENGTH) read.set(text, items);
    return items;
  };
}

const READ_BODIES_KEPT = 64;
const MAX_KEPT_BODY_LENGTH = 1_024;

function parseItems(text: string): ExplicitItems | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = PlaceOrderBody.safeParse(json);
  const items = parsed.success ? parsed.data.items : undefined;
  if (!items) return undefined;
  for (const item of items) Object.freeze(item);
  Object.freeze(items);
  return items;
}

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
  const explicitItems = explicitItemsOf();

  const answerIfSoldOut = async (request: Request, rest: never[]) => {
    const started = performance.now();
    const user = await laneUser(ctx, request.headers.get('authorization'));
    if (!user) return fetch(request, ...rest);
    const body = await request.arrayBuffer();
    const items = explicitItems(body);
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

/**
 * The same lane on Node's own request (server.ts, in front of @hono/node-server's listener): no web
 * Request or Response is built for a refusal it answers. It reads the body itself (a Content-Length
 * within the limit, not chunked) and hands a request that is not its own on with that body as
 * `rawBody`, which @hono/node-server makes the router's Request body. What the web lane hands on, so
 * does this one.
 */
export function withNodeSoldOutOrderLane(
  ctx: AppContext,
  metrics: Metrics,
  maxBodyBytes: number,
  next: NodeListener,
): NodeListener {
  if (!ctx.config.stockGate) return next;
  const memo = soldOutMemo(ctx);
  const answers = new LaneAnswers(ctx, metrics, 'POST', ORDERS_ROUTE, false);
  const explicitItems = explicitItemsOf();

  const answerIfSoldOut = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const read = await nodeUserAndBody(ctx, req, res, next);
    if (!read) return;
    const { user, body } = read;
    const items = explicitItems(body);
    const known = items && knownSoldOut(ctx, items, undefined);
    if (!known) return next(withRawBody(req, body), res);
    const laneReq = nodeLaneRequest(req, ORDERS_PATH, user, started);
    answers.write(res, laneReq, refusalJson('OUT_OF_STOCK', laneReq.lang, known.details));
  };

  return (req, res) => {
    const headers = req.headers;
    if (
      req.method !== 'POST' ||
      req.url !== ORDERS_PATH ||
      !memo.knowsAny(Date.now()) ||
      headers.authorization === undefined ||
      headers['idempotency-key'] !== undefined ||
      !isJsonContentType(headers['content-type']) ||
      !nodeBodyWithin(req, maxBodyBytes)
    ) {
      return next(req, res);
    }
    return answerIfSoldOut(req, res);
  };
}
