import type { MiddlewareHandler } from 'hono';
import { DomainError } from '../../errors/domain-error';
import type { AppEnv } from '../app-env';
import { NOT_JSON_BODY } from '../error-handler';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The Origin names this server: same host and port. The scheme is not compared — behind a TLS-terminating
 * proxy the page is https while the request reaching Node is http.
 */
function isSameHost(origin: string, requestUrl: string): boolean {
  const parsed = URL.parse(origin);
  return parsed !== null && parsed.host === new URL(requestUrl).host;
}

function isJson(contentType: string): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType.trim());
}

/**
 * CSRF guard for state-changing requests of operator surfaces: Bull Board (where browsers resend
 * cached Basic credentials) and the admin API. A write is refused with 403 when the browser says it
 * comes from another site — an `Origin` that is neither this server's nor listed in `allowedOrigins`,
 * or, without Origin, a `Sec-Fetch-Site` other than same-origin/none — and with 400 when it carries a
 * body that is not application/json (text/plain and form posts are what a page can send cross-site
 * without a preflight). Clients that are not browsers send neither header and are not affected.
 */
export function refuseCrossSite(allowedOrigins: readonly string[] = []): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    const crossSite =
      origin !== undefined
        ? !isSameHost(origin, c.req.url) && !allowedOrigins.includes(origin)
        : site !== undefined && site !== 'same-origin' && site !== 'none';
    if (crossSite)
      throw new DomainError('FORBIDDEN', {
        en: 'Cross-site requests may not change anything here',
        ko: '다른 사이트에서 보낸 요청으로는 아무것도 변경할 수 없습니다',
      });
    const contentType = c.req.header('content-type');
    const length = c.req.header('content-length');
    const hasBody =
      (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
    if ((contentType !== undefined || hasBody) && !isJson(contentType ?? '')) {
      throw new DomainError('VALIDATION_ERROR', NOT_JSON_BODY);
    }
    await next();
  };
}
