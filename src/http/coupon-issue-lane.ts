import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context';
import { issueCoupon } from '../coupons/coupon-issue';
import type { Metrics } from '../observability/metrics';
import { prepareRefusals } from './coupon-refusals';
import {
  type Fetch,
  type LaneAnswer,
  LaneAnswers,
  type LaneRequest,
  laneErrorAnswer,
  laneMayAnswer,
  laneRequest,
  laneUser,
  type NodeListener,
  nodeBodyWithin,
  nodeLaneRequest,
  nodeRequestHasNoBody,
  pathWithoutQuery,
} from './lane-support';
import { idParam } from './schemas/common';

const COUPONS_PREFIX = '/api/v1/coupons/';
const ISSUE_SUFFIX = '/issue';
const ISSUE_PATH_LENGTH = COUPONS_PREFIX.length + 36 + ISSUE_SUFFIX.length;
/** The label the router's POST /coupons/{id}/issue gets in the HTTP histogram (one series for both). */
export const COUPON_ISSUE_ROUTE = '/api/v1/coupons/:id/issue';

/** The coupon id of `POST /api/v1/coupons/{uuid}/issue` (no query string), as the route's schema accepts it. */
function issuedCouponId(request: Request): string | undefined {
  if (request.method !== 'POST') return undefined;
  const path = pathWithoutQuery(request.url);
  return path === undefined ? undefined : couponIdOfPath(path);
}

function couponIdOfPath(path: string): string | undefined {
  if (path.length !== ISSUE_PATH_LENGTH || !path.startsWith(COUPONS_PREFIX) || !path.endsWith(ISSUE_SUFFIX))
    return undefined;
  const id = path.slice(COUPONS_PREFIX.length, COUPONS_PREFIX.length + 36);
  const parsed = idParam.safeParse({ id });
  return parsed.success ? parsed.data.id : undefined;
}

const issuePathOf = (couponId: string) => COUPONS_PREFIX + couponId + ISSUE_SUFFIX;

/**
 * The coupon rush in front of the router: `POST /api/v1/coupons/{id}/issue` by a BUYER with a valid
 * token does what the route does — issueCoupon (the user's rate and the gate's claim in Redis, only
 * winners written to PostgreSQL in batches) — and answers with the route's bodies: the user coupon
 * (201), a refusal rendered once per language (409, 400, 429), or whatever issueCoupon throws, as the
 * error handler renders it. Request id, security headers, histogram series and access line are the
 * router's. Anything else is the router's: no token or a bad one (401), another role (403), an id the
 * route's schema refuses (400), a body the body limit must look at.
 */
export function withCouponIssueLane<F extends Fetch>(
  ctx: AppContext,
  metrics: Metrics,
  maxBodyBytes: number,
  fetch: F,
): F {
  const limits = { maxBodyBytes, readsBody: false };
  const lane = couponIssueLane(ctx, metrics);
  const issueIfBuyer = async (request: Request, rest: never[], couponId: string) => {
    const started = performance.now();
    const user = await laneUser(ctx, request.headers.get('authorization'));
    if (user?.role !== 'BUYER') return fetch(request, ...rest);
    const req = laneRequest(request, issuePathOf(couponId), user, started);
    return lane.answers.answer(req, await lane.issue(req, couponId));
  };
  return ((request: Request, ...rest: never[]) => {
    const couponId = issuedCouponId(request);
    if (couponId === undefined || !laneMayAnswer(request, rest[0], limits)) return fetch(request, ...rest);
    return issueIfBuyer(request, rest, couponId);
  }) as F;
}

/**
 * The same lane on Node's own request (server.ts, in front of @hono/node-server's listener): no web
 * Request or Response is built for an issue it answers. Like the route, it never reads a body; one of
 * known length within the limit Node's server discards after the answer, anything else (chunked, over
 * the limit) goes to `next` for the body limit to judge, as does everything the web lane hands on.
 */
export function withNodeCouponIssueLane(
  ctx: AppContext,
  metrics: Metrics,
  maxBodyBytes: number,
  next: NodeListener,
): NodeListener {
  const lane = couponIssueLane(ctx, metrics);
  const issueIfBuyer = async (req: IncomingMessage, res: ServerResponse, couponId: string) => {
    const started = performance.now();
    const user = await laneUser(ctx, req.headers.authorization);
    if (user?.role !== 'BUYER') return next(req, res);
    const laneReq = nodeLaneRequest(req, issuePathOf(couponId), user, started);
    lane.answers.write(res, laneReq, await lane.issue(laneReq, couponId));
  };
  return (req, res) => {
    const couponId =
      req.method === 'POST' &&
      req.headers.authorization !== undefined &&
      (nodeRequestHasNoBody(req) || nodeBodyWithin(req, maxBodyBytes))
        ? couponIdOfPath(req.url ?? '')
        : undefined;
    if (couponId === undefined) return next(req, res);
    return issueIfBuyer(req, res, couponId);
  };
}

/** What both lanes share: the issue itself, answered as the route answers it. */
function couponIssueLane(ctx: AppContext, metrics: Metrics) {
  const refusals = prepareRefusals(ctx);
  const answers = new LaneAnswers(ctx, metrics, 'POST', COUPON_ISSUE_ROUTE, true);
  const issue = async (req: LaneRequest, couponId: string): Promise<LaneAnswer> => {
    try {
      const outcome = await issueCoupon(ctx, req.user.id, couponId);
      if (outcome.issued) return { status: 201, body: JSON.stringify({ data: outcome.issued }) };
      return refusals(outcome.refusal, req.lang);
    } catch (error) {
      return laneErrorAnswer(ctx, req, error);
    }
  };
  return { answers, issue };
}
