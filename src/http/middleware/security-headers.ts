import type { MiddlewareHandler } from 'hono';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../app-env';

type SecureHeadersOptions = NonNullable<Parameters<typeof secureHeaders>[0]>;

/** Paths that serve HTML pages (and their assets): the API reference, Bull Board, the machine page. */
const PAGE_PREFIXES = ['/docs', '/admin/queues', '/machines'];
const isPage = (path: string) =>
  PAGE_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

const common: SecureHeadersOptions = {
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  permissionsPolicy: { camera: false, microphone: false, geolocation: false, payment: false },
};

/** JSON, event streams and metrics: nothing in them may run, load or be framed. */
const apiHeaders = secureHeaders({
  ...common,
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
});

/**
 * The pages load everything from this origin (the bundles are served from the installed packages, so
 * they work offline). Inline scripts run only with the per-response nonce; inline styles are allowed
 * because mermaid's SVG and the UI bundles set them. Nothing can frame a page, post a form elsewhere
 * or point the base URL elsewhere (Bull Board sets a same-origin <base>).
 */
const pageHeaders = secureHeaders({
  ...common,
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

/** hono/secure-headers on every response: a strict policy for the API, a page policy for the UIs. */
export const securityHeaders: MiddlewareHandler<AppEnv> = (c, next) =>
  isPage(c.req.path) ? pageHeaders(c, next) : apiHeaders(c, next);

/** The nonce an inline script of this response must carry (set by securityHeaders on pages). */
export function scriptNonce(c: { get(key: 'secureHeadersNonce'): string | undefined }): string {
  return c.get('secureHeadersNonce') ?? '';
}
