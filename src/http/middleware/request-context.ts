import type { Context, MiddlewareHandler } from 'hono';
import type { Language } from '../../errors/error-codes';
import { uuidv7 } from '../../ids';
import type { Logger } from '../../logger';
import type { AppEnv } from '../app-env';
import { isPreparedResponse } from '../prepared-response';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A request slower than this is logged at info; every other access line is at debug. */
export const SLOW_REQUEST_MS = 1000;

export function languageOf(acceptLanguage: string | undefined): Language {
  if (acceptLanguage === undefined) return 'en';
  const first = acceptLanguage.split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('ko') ? 'ko' : 'en';
}

/**
 * Request id (echoed when the client sent a sane one), the language, and an access log line: at debug
 * (at info when slower than SLOW_REQUEST_MS), built only when that level is on. No child logger per
 * request: `c.get('log')` is the process logger, and requestLog(c) makes a child for a line that should
 * carry the request id (errors, warnings).
 */
export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    const started = performance.now();
    c.set('requestId', requestId);
    c.set('log', log);
    c.set('lang', languageOf(c.req.header('accept-language')));
    c.set('user', undefined);
    await next();
    if (!isPreparedResponse(c.res)) c.res.headers.set('X-Request-Id', requestId);
    const ms = performance.now() - started;
    const level = ms >= SLOW_REQUEST_MS ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    const user = c.get('user');
    log[level](
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(ms * 10) / 10,
        ...(user ? { userId: user.id } : {}),
      },
      'request',
    );
  };
}

/** A logger whose lines carry this request's id (made on demand: not every request logs). */
export function requestLog(c: Context<AppEnv>): Logger | undefined {
  return c.get('log')?.child({ requestId: c.get('requestId') });
}
