import type { ServerResponse } from 'node:http';
import type { Context, TypedResponse } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv } from './app-env';

/**
 * Every header of a prepared JSON answer: its type, the request id and the security headers of every
 * API answer (JSON, event streams, metrics), in which nothing may run, load or be framed — the same
 * set hono/secure-headers gives with these options (test/security/security-headers.test.ts compares
 * them). One object literal per answer: cheaper than copying a shared set into it.
 */
const preparedHeaders = (requestId: string): Record<string, string> => ({
  'Content-Type': 'application/json',
  'X-Request-Id': requestId,
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Origin-Agent-Cluster': '?1',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-DNS-Prefetch-Control': 'off',
  'X-Download-Options': 'noopen',
  'X-Frame-Options': 'DENY',
  'X-Permitted-Cross-Domain-Policies': 'none',
  'X-XSS-Protection': '0',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
});

/** The security headers of every API answer (see preparedHeaders), computed once. */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze(
  (({ 'Content-Type': _type, 'X-Request-Id': _id, ...security }) => security)(preparedHeaders('')),
);

const API_SECURITY_ENTRIES = Object.entries(API_SECURITY_HEADERS);

// Marks answers built here: they already carry the request id and the security headers, as a plain
// object, so the middleware leaves them alone and @hono/node-server writes them without building a web
// Headers.
const PREPARED = Symbol('prepared answer');
type Marked = Response & { [PREPARED]?: true };

/**
 * A JSON answer from an already serialized body, with every header the middleware would add (request
 * id, security headers). For hot routes: no JSON.stringify of a cached body, no Headers object.
 */
export function preparedJson<T, S extends ContentfulStatusCode>(
  c: Context<AppEnv>,
  status: S,
  body: string,
): Response & TypedResponse<T, S, 'json'> {
  // The body is the caller's JSON text of T: typed as hono's c.json would type it.
  return preparedJsonResponse(c.get('requestId'), status, body) as Response & TypedResponse<T, S, 'json'>;
}

/**
 * preparedJson outside a hono context (the lanes in front of the router); `extra` headers for the odd
 * answer that carries more (an error's Retry-After or WWW-Authenticate).
 */
export function preparedJsonResponse(
  requestId: string,
  status: number,
  body: string,
  extra?: Record<string, string>,
): Response {
  const headers = preparedHeaders(requestId);
  const res = new Response(body, { status, headers: extra ? Object.assign(headers, extra) : headers });
  (res as Marked)[PREPARED] = true;
  return res;
}

/**
 * preparedJsonResponse written straight to Node's response (the lanes in front of @hono/node-server):
 * the same headers, with the Content-Length @hono/node-server would set, and no web Response built.
 */
export function writePreparedJson(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: string,
  extra?: Record<string, string>,
): void {
  const headers: Record<string, string | number> = preparedHeaders(requestId);
  if (extra) Object.assign(headers, extra);
  headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}

/** Whether this answer came from preparedJson (and so needs no header from the middleware). */
export const isPreparedResponse = (res: Response): boolean => (res as Marked)[PREPARED] === true;

/** Sets the API security headers on an answer built elsewhere (the slow path). */
export function setApiSecurityHeaders(headers: Headers): void {
  for (const [name, value] of API_SECURITY_ENTRIES) headers.set(name, value);
  headers.delete('X-Powered-By');
}
