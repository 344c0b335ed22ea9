import type { MiddlewareHandler } from 'hono';
import type { Language } from '../../errors/error-codes';
import { uuidv7 } from '../../ids';
import type { Logger } from '../../logger';
import type { AppEnv } from '../app-env';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function languageOf(acceptLanguage: string | undefined): Language {
  const first = acceptLanguage?.split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('ko') ? 'ko' : 'en';
}

/** Request id (echoed when the client sent a sane one), a child logger, the language, an access log. */
export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    const started = performance.now();
    c.set('requestId', requestId);
    c.set('log', log.child({ requestId }));
    c.set('lang', languageOf(c.req.header('accept-language')));
    c.set('user', undefined);
    c.header('X-Request-Id', requestId);
    await next();
    const ms = Math.round((performance.now() - started) * 10) / 10;
    const user = c.get('user');
    c.get('log').info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms,
        ...(user ? { userId: user.id } : {}),
      },
      'request',
    );
  };
}
