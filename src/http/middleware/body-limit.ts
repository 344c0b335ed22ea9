import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DomainError } from '../../errors/domain-error';
import type { AppEnv } from '../app-env';

/**
 * Refuses bodies over `maxBytes` with 413, reading only the headers when they settle it. Behind Node's
 * HTTP server (@hono/node-server passes the IncomingMessage as `env.incoming`) the parser delivers
 * exactly Content-Length bytes, so a request with a Content-Length and no Transfer-Encoding is judged
 * by that number, and one with neither has no body. Only a chunked body is counted as it streams
 * (hono/body-limit, which makes @hono/node-server build a web Request); the common cases (every GET,
 * a POST without a body, a JSON body) never build one. A Request handed in directly (`app.request`
 * in tests, another runtime) need not carry a Content-Length, so its body is always counted.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const streamed = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new DomainError('PAYLOAD_TOO_LARGE');
    },
  });
  return (c, next) => {
    if (!fromNodeServer(c.env)) {
      return c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : streamed(c, next);
    }
    if (c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    const length = c.req.header('content-length');
    if (length === undefined) return next();
    if (!/^\d+$/.test(length) || Number(length) > maxBytes) throw new DomainError('PAYLOAD_TOO_LARGE');
    return next();
  };
}

/** Whether the request came through @hono/node-server (its env holds the IncomingMessage). */
export const fromNodeServer = (env: unknown): boolean =>
  typeof env === 'object' && env !== null && 'incoming' in env && env.incoming !== undefined;
