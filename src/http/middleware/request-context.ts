import type { Context, MiddlewareHandler } from 'hono';
import type { Language } from '../../errors/error-codes';
import { uuidv7 } from '../../ids';
import type { Logger } from '../../logger';
import type { AppEnv } from '../app-env';
import { isPreparedResponse } from '../prepared-response';

/** Echoed as sent when it is printable ASCII of sane length (it goes into logs and a response header). */
const REQUEST_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** A request slower than this is logged at info, even on a hot route. */
export const SLOW_REQUEST_MS = 1000;

/**
 * The hot routes (a stampede of cached reads or coupon claims): their access lines are at debug, as
 * writing a line costs as much as answering. Every other request gets its line at info.
 */
const HOT_ROUTES: readonly { method: string; path: RegExp }[] = [
  { method: 'GET', path: /^\/api\/v1\/products\/[^/]+$/ },
  { method: 'POST', path: /^\/api\/v1\/coupons\/[^/]+\/issue$/ },
];

export const isHotRoute = (method: string, path: string): boolean =>
  HOT_ROUTES.some((route) => route.method === method && route.path.test(path));

/** The client's X-Request-Id when it is sane, else a new one. */
export function requestIdFrom(header: string | undefined | null): string {
  return header && REQUEST_ID.test(header) ? header : uuidv7();
}

interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  userId?: string;
}

/**
 * The access line of a request that took `ms`: at info, at debug on a hot route unless it was slow;
 * nothing is built when that level is off.
 */
export function logAccess(log: Logger, ms: number, hot: () => boolean, line: () => AccessLine): void {
  if (!log.isLevelEnabled('info')) return; // debug is below info: nothing would be written
  const level = ms < SLOW_REQUEST_MS && hot() ? 'debug' : 'info';
  if (!log.isLevelEnabled(level)) return;
  log[level]({ ...line(), ms: Math.round(ms * 10) / 10 }, 'request');
}

export function languageOf(acceptLanguage: string | undefined): Language {
  if (acceptLanguage === undefined) return 'en';
  const first = acceptLanguage.split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('ko') ? 'ko' : 'en';
}

/**
 * Request id (echoed when the client sent a sane one), the language, and an access log line (at debug
 * on the hot routes, see logAccess), built only when its level is on. No child logger per request:
 * `c.get('log')` is the process logger, and requestLog(c) makes a child for a line that should carry
 * the request id (errors, warnings).
 */
export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = requestIdFrom(c.req.header('x-request-id'));
    const started = performance.now();
    c.set('requestId', requestId);
    c.set('log', log);
    c.set('lang', languageOf(c.req.header('accept-language')));
    c.set('user', undefined);
    await next();
    if (!isPreparedResponse(c.res)) c.res.headers.set('X-Request-Id', requestId);
    const hot = () => isHotRoute(c.req.method, c.req.path);
    logAccess(log, performance.now() - started, hot, () => {
      const user = c.get('user');
      return {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ...(user ? { userId: user.id } : {}),
      };
    });
  };
}

/** A logger whose lines carry this request's id (made on demand: not every request logs). */
export function requestLog(c: Context<AppEnv>): Logger | undefined {
  return c.get('log')?.child({ requestId: c.get('requestId') });
}
