import type { AppContext } from '../context';
import type { IssueRefusal } from '../coupons/coupon-issue';
import { DomainError } from '../errors/domain-error';
import type { Language } from '../errors/error-codes';
import { errorBody } from './error-handler';

export interface PreparedRefusal {
  status: 400 | 409 | 429;
  /** The error envelope of API.md as JSON text, in the client's language. */
  body: string;
}

const REFUSALS: readonly IssueRefusal[] = ['SOLD_OUT', 'ALREADY_ISSUED', 'RATE_LIMITED', 'OUTSIDE_WINDOW'];

/** The error each refusal stands for: the same code, message and details a thrown one would give. */
export function refusalError(ctx: Pick<AppContext, 'config'>, refusal: IssueRefusal): DomainError {
  switch (refusal) {
    case 'SOLD_OUT':
      return new DomainError('COUPON_SOLD_OUT');
    case 'ALREADY_ISSUED':
      return new DomainError('COUPON_ALREADY_ISSUED');
    case 'RATE_LIMITED':
      return new DomainError('RATE_LIMITED', {
        en: `At most ${ctx.config.couponIssueRatePerMin} issue requests a minute`,
        ko: `쿠폰 발급 요청은 1분에 최대 ${ctx.config.couponIssueRatePerMin}번까지 할 수 있습니다`,
      });
    case 'OUTSIDE_WINDOW':
      return new DomainError('COUPON_NOT_APPLICABLE', undefined, [
        { field: 'id', message: 'outside its validity window' },
      ]);
  }
}

/**
 * The gate's refusals rendered once per process and language: a losing buyer in a stampede is
 * answered with a ready string, with no exception, stack trace or serialization on the way.
 */
export function prepareRefusals(
  ctx: Pick<AppContext, 'config'>,
): (refusal: IssueRefusal, lang: Language) => PreparedRefusal {
  const prepared = new Map<string, PreparedRefusal>();
  for (const refusal of REFUSALS) {
    const error = refusalError(ctx, refusal);
    for (const lang of ['en', 'ko'] as const) {
      prepared.set(`${refusal} ${lang}`, {
        status: error.status as PreparedRefusal['status'],
        body: JSON.stringify(errorBody(error, lang)),
      });
    }
  }
  return (refusal, lang) => prepared.get(`${refusal} ${lang}`)!;
}
