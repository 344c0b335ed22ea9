import type { AppContext } from '../context';
import { issueCoupon } from '../coupons/coupon-issue';
import type { Metrics } from '../observability/metrics';
import { prepareRefusals } from './coupon-refusals';
import { errorAnswer } from './error-handler';
import {
  type Fetch,
  LaneAnswers,
  type LaneRequest,
  laneMayAnswer,
  laneRequest,
  laneUser,
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
  if (path?.length !== ISSUE_PATH_LENGTH || !path.startsWith(COUPONS_PREFIX) || !path.endsWith(ISSUE_SUFFIX))
    return undefined;
  const id = path.slice(COUPONS_PREFIX.length, COUPONS_PREFIX.length + 36);
  return idParam.safeParse({ id }).success ? id : undefined;
}

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
  const refusals = prepareRefusals(ctx);
  const answers = new LaneAnswers(ctx, metrics, 'POST', COUPON_ISSUE_ROUTE, true);

  const issue = async (req: LaneRequest, couponId: string) => {
    try {
      const outcome = await issueCoupon(ctx, req.user.id, couponId);
      if (outcome.issued) return answers.answer(req, 201, JSON.stringify({ data: outcome.issued }));
      const refusal = refusals(outcome.refusal, req.lang);
      return answers.answer(req, refusal.status, refusal.body);
    } catch (error) {
      const answer = errorAnswer(error, req.lang, () => ctx.log.child({ requestId: req.requestId }));
      return answers.answer(req, answer.status, JSON.stringify(answer.body), answer.headers);
    }
  };

  const issueIfBuyer = async (request: Request, rest: never[], couponId: string, path: string) => {
    const started = performance.now();
    const user = await laneUser(ctx, request.headers);
    if (user?.role !== 'BUYER') return fetch(request, ...rest);
    return issue(laneRequest(request, path, user, started), couponId);
  };

  const lane = (request: Request, ...rest: never[]) => {
    const couponId = issuedCouponId(request);
    if (couponId === undefined || !laneMayAnswer(request, rest[0], limits)) return fetch(request, ...rest);
    return issueIfBuyer(request, rest, couponId, COUPONS_PREFIX + couponId + ISSUE_SUFFIX);
  };
  return lane as F;
}
