import type { MiddlewareHandler } from 'hono';

/**
 * For a route whose JSON body is optional: an empty body counts as `{}` even when the client sent
 * `Content-Type: application/json` (many fetch wrappers set it on every request), instead of failing
 * the validator's JSON parse with "Malformed JSON".
 */
export const emptyJsonBodyIsNone: MiddlewareHandler = async (c, next) => {
  // Hono's json() parses the cached text (held as a promise, though typed as the value).
  if ((await c.req.text()).trim() === '') {
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve('{}');
  }
  await next();
};
