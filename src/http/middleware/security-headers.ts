import type { MiddlewareHandler } from 'hono';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../app-env';
import { isPreparedResponse, setApiSecurityHeaders } from '../prepared-response';

type SecureHeadersOptions = NonNullable<Parameters<typeof secureHeaders>[0]>;

/** Paths that serve HTML pages (and their assets): the API reference, Bull Board, the machine page. */
const PAGE_PREFIXES = ['/docs', '/admin/queues', '/machines'];
const isPage = (path: string) =>
  PAGE_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

/** What every answer gets besides its CSP (the API's set is API_SECURITY_HEADERS, precomputed). */
export const COMMON_SECURITY_OPTIONS: SecureHeadersOptions = {
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  permissionsPolicy: { camera: false, microphone: false, geolocation: false, payment: false },
};

/** The API's policy as hono/secure-headers options (API_SECURITY_HEADERS must equal what it gives). */
export const API_SECURITY_OPTIONS: SecureHeadersOptions = {
  ...COMMON_SECURITY_OPTIONS,
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
};

/**
 * The pages load everything from this origin (the bundles are served from the installed packages, so
 * they work offline). Inline scripts run only with the per-response nonce; inline styles are allowed
 * because mermaid's SVG and the UI bundles set them. Nothing can frame a page, post a form elsewhere
 * or point the base URL elsewhere (Bull Board sets a same-origin <base>).
 */
const pageHeaders = secureHeaders({
  ...COMMON_SECURITY_OPTIONS,
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", NONCE],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:', 'blob:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

/**
 * Security headers on every response: a page policy (with a nonce) for the UIs, the precomputed strict
 * set for everything else. Answers from preparedJson carry the set already and are left alone.
 */
export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isPage(c.req.path)) return pageHeaders(c, next);
  await next();
  if (!isPreparedResponse(c.res)) setApiSecurityHeaders(c.res.headers);
};

/** The nonce an inline script of this response must carry (set by securityHeaders on pages). */
export function scriptNonce(c: { get(key: 'secureHeadersNonce'): string | undefined }): string {
  return c.get('secureHeadersNonce') ?? '';
}
